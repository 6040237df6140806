import { Metadata, status } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { createLogger } from '../logger.js';
import { InternalError, UnavailableError, VxmeshError } from '../errors.js';
import type { ErrorCode } from '../errors.js';

const log = createLogger('rpc');

const STATUS_OF: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  CONFLICT: status.ABORTED,
  EXHAUSTED: status.RESOURCE_EXHAUSTED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAVAILABLE: status.UNAVAILABLE,
  CLOSED: status.UNAVAILABLE,
  INTERNAL: status.INTERNAL,
};

const CODE_KEY = 'vxmesh-error-code';

/**
 * The one place an error leaving a server becomes a gRPC status. Our own errors keep their message
 * and code (sent as metadata so the client can rebuild the same class); anything else is logged in
 * full and sent as a generic INTERNAL.
 */
export function toServiceError(err: unknown): Partial<ServiceError> {
  const metadata = new Metadata();
  if (err instanceof VxmeshError) {
    metadata.set(CODE_KEY, err.code);
    return { code: STATUS_OF[err.code], details: err.message, metadata };
  }
  log.error({ err }, 'unexpected error in RPC handler');
  metadata.set(CODE_KEY, 'INTERNAL');
  return { code: status.INTERNAL, details: 'internal error (see the daemon log)', metadata };
}

function isServiceError(err: unknown): err is ServiceError {
  return err instanceof Error && typeof (err as Partial<ServiceError>).code === 'number';
}

/**
 * The one place a gRPC failure seen by a client becomes our error, so callers (and the CLI) handle
 * one hierarchy. Transport failures become UnavailableError.
 */
export function fromServiceError(err: unknown, what: string): VxmeshError {
  if (!isServiceError(err)) {
    return err instanceof VxmeshError ? err : new InternalError(`${what} failed`, { cause: err });
  }
  const code = err.metadata?.get(CODE_KEY)[0];
  const message = err.details || err.message;
  if (typeof code === 'string' && code in STATUS_OF) {
    return new VxmeshError(code as ErrorCode, message, { cause: err });
  }
  switch (err.code) {
    case status.UNAVAILABLE:
    case status.DEADLINE_EXCEEDED: {
      return new UnavailableError(`${what}: ${message}`, { cause: err });
    }
    case status.PERMISSION_DENIED: {
      return new VxmeshError('PERMISSION_DENIED', message, { cause: err });
    }
    case status.UNAUTHENTICATED: {
      return new VxmeshError('UNAUTHENTICATED', message, { cause: err });
    }
    case status.CANCELLED: {
      return new VxmeshError('UNAVAILABLE', `${what}: cancelled`, { cause: err });
    }
    default: {
      return new InternalError(`${what}: ${message}`, { cause: err });
    }
  }
}
