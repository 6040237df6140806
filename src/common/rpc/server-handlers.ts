import type { handleServerStreamingCall, handleUnaryCall, ServerUnaryCall, ServerWritableStream } from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { toServiceError } from './service-error.js';

/** Who is calling, as established by the transport and the method's policy. */
export type Caller =
  /** The daemon's local unix socket: root on this host. */
  | { readonly kind: 'local' }
  /** No valid client certificate (joining nodes fetching the CA or enrolling). */
  | { readonly kind: 'anonymous' }
  /** A registered node with a valid certificate; `role` is the lower of certificate and registry role. */
  | { readonly kind: 'node'; readonly nodeId: string; readonly role: 'manager' | 'worker'; readonly clusterId: string };

/** Decides whether a call may proceed and who makes it; throws a PERMISSION_DENIED error otherwise. */
export type Authorize = (call: ServerSurfaceCall) => Promise<Caller>;

export interface CallContext {
  readonly caller: Caller;
  /** Aborted when the client cancels or the connection drops. */
  readonly signal: AbortSignal;
}

function callSignal(call: ServerSurfaceCall): { signal: AbortSignal; dispose: () => void } {
  const ac = new AbortController();
  const onCancel = (): void => ac.abort(new Error('call cancelled by the client'));
  call.on('cancelled', onCancel);
  return { signal: ac.signal, dispose: () => call.removeListener('cancelled', onCancel) };
}

/** Wraps a promise-returning handler: authorization first, one error mapping, cancellation as a signal. */
export function unaryHandler<Req, Res>(
  authorize: Authorize,
  handler: (request: Req, ctx: CallContext) => Promise<Res>,
): handleUnaryCall<Req, Res> {
  return (call: ServerUnaryCall<Req, Res>, callback) => {
    const { signal, dispose } = callSignal(call);
    void (async () => {
      try {
        const caller = await authorize(call);
        callback(null, await handler(call.request, { caller, signal }));
      } catch (err) {
        callback(toServiceError(err));
      } finally {
        dispose();
      }
    })();
  };
}

/** The sending side of a server stream. */
export interface StreamWriter<Res> {
  /** Queues one message; false means the transport buffer is full and the caller should wait. */
  send(message: Res): boolean;
  /** Resolves when the transport has room again (or the call ended). */
  drained(): Promise<void>;
}

/**
 * Wraps a server-streaming handler. The stream ends OK when the handler resolves and with the
 * mapped status when it rejects.
 */
export function serverStreamHandler<Req, Res>(
  authorize: Authorize,
  handler: (request: Req, ctx: CallContext, writer: StreamWriter<Res>) => Promise<void>,
): handleServerStreamingCall<Req, Res> {
  return (call: ServerWritableStream<Req, Res>) => {
    const { signal, dispose } = callSignal(call);
    const writer: StreamWriter<Res> = {
      send: (m) => call.write(m),
      drained: () =>
        new Promise<void>((resolve) => {
          const done = (): void => {
            call.removeListener('drain', done);
            signal.removeEventListener('abort', done);
            resolve();
          };
          call.once('drain', done);
          signal.addEventListener('abort', done, { once: true });
        }),
    };
    void (async () => {
      try {
        const caller = await authorize(call);
        await handler(call.request, { caller, signal }, writer);
        call.end();
      } catch (err) {
        if (!signal.aborted) {
          call.emit('error', toServiceError(err));
        }
      } finally {
        dispose();
      }
    })();
  };
}
