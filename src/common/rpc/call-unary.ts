import { Metadata } from '@grpc/grpc-js';
import type { CallOptions, ClientUnaryCall, ServiceError } from '@grpc/grpc-js';
import { fromServiceError } from './service-error.js';

/** The widest overload ts-proto generates for a unary client method. */
export type UnaryMethod<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: Partial<CallOptions>,
  callback: (error: ServiceError | null, response: Res) => void,
) => ClientUnaryCall;

export interface UnaryOptions {
  readonly signal?: AbortSignal;
  /** Deadline from now; absent means none. */
  readonly timeoutMs?: number;
}

/**
 * Calls a unary RPC as a promise. Aborting the signal cancels the call; failures come back as our
 * error hierarchy, described by `what` (e.g. "join cluster").
 */
export async function callUnary<Req, Res>(
  method: UnaryMethod<Req, Res>,
  request: Req,
  what: string,
  opts: UnaryOptions = {},
): Promise<Res> {
  opts.signal?.throwIfAborted();
  const callOptions: Partial<CallOptions> =
    opts.timeoutMs === undefined ? {} : { deadline: new Date(Date.now() + opts.timeoutMs) };
  let call: ClientUnaryCall | undefined;
  const onAbort = (): void => call?.cancel();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    return await new Promise<Res>((resolve, reject) => {
      call = method(request, new Metadata(), callOptions, (err, res) => {
        if (err) {
          reject(fromServiceError(err, what));
        } else {
          resolve(res);
        }
      });
    });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
  }
}
