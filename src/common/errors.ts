/**
 * The one error hierarchy of vxmesh. Every domain error carries a string code; the API layer maps
 * codes to gRPC status in one place, and the store drivers map backend errors to these in one place.
 */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'CONFLICT'
  | 'EXHAUSTED'
  | 'PERMISSION_DENIED'
  | 'UNAUTHENTICATED'
  | 'FAILED_PRECONDITION'
  | 'UNAVAILABLE'
  | 'CLOSED'
  | 'INTERNAL';

/** Base class of every error vxmesh raises on purpose. */
export class VxmeshError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Bad input from a caller; names the field and says why, so the CLI can print it as is. */
export class InvalidArgumentError extends VxmeshError {
  constructor(
    readonly field: string,
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super('INVALID_ARGUMENT', `invalid ${field}: ${reason}`, options);
  }
}

/** A named thing does not exist. */
export class NotFoundError extends VxmeshError {
  constructor(
    readonly kind: string,
    readonly id: string,
    options?: ErrorOptions,
  ) {
    super('NOT_FOUND', `${kind} ${id} not found`, options);
  }
}

/** A backend (store, manager) could not be reached or did not answer; the operation may be retried. */
export class UnavailableError extends VxmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super('UNAVAILABLE', message, options);
  }
}

/** The object was used after `close()`. */
export class ClosedError extends VxmeshError {
  constructor(what: string) {
    super('CLOSED', `${what} is closed`);
  }
}

/** An unexpected failure inside vxmesh or a dependency; the message is safe to show, the cause is logged. */
export class InternalError extends VxmeshError {
  constructor(message: string, options?: ErrorOptions) {
    super('INTERNAL', message, options);
  }
}

/**
 * Whether retrying the same call may succeed. Retry loops call this and never inspect messages.
 * Unknown errors are terminal so they surface instead of looping.
 */
export function isRetryable(err: unknown): boolean {
  if (err instanceof VxmeshError) {
    return err.code === 'UNAVAILABLE' || err.code === 'CONFLICT';
  }
  return false;
}
