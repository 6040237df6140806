import { VxmeshError } from '../common/errors.js';
import type { ErrorCode } from '../common/errors.js';

/** Error codes of the CNI spec (1-99 are reserved by it) and this plugin's own (100+). */
export const CNI_ERROR = {
  INCOMPATIBLE_VERSION: 1,
  UNSUPPORTED_FIELD: 2,
  UNKNOWN_CONTAINER: 3,
  INVALID_ENVIRONMENT: 4,
  IO_FAILURE: 5,
  DECODE_FAILURE: 6,
  INVALID_CONFIG: 7,
  TRY_AGAIN_LATER: 11,
  NOT_AVAILABLE: 50,
  NOT_AVAILABLE_CONTAINERS_DAMAGED: 51,
  /** The container or its interface name is already attached, or the name is taken on the network. */
  ALREADY_ATTACHED: 100,
  /** The network has no free address. */
  NO_ADDRESS: 101,
  /** CHECK found the attachment different from what the runtime was told. */
  CHECK_FAILED: 102,
  /** Anything else that went wrong inside vxmesh. */
  INTERNAL: 110,
} as const;

/** A failure as the CNI spec reports it: a code, a short message and optional details. */
export class CniError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly details = '',
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'CniError';
  }
}

/** The JSON a failing plugin prints on stdout (CNI spec, "Error"). */
export interface CniErrorJson {
  readonly cniVersion: string;
  readonly code: number;
  readonly msg: string;
  readonly details?: string;
}

export function cniErrorJson(err: CniError, cniVersion: string): CniErrorJson {
  return { cniVersion, code: err.code, msg: err.message, ...(err.details ? { details: err.details } : {}) };
}

/** Which daemon failure codes mean what to a runtime, per CNI command. */
const CODES: Record<ErrorCode, number> = {
  INVALID_ARGUMENT: CNI_ERROR.INVALID_CONFIG,
  // A network that does not exist (or is not attachable) is a configuration mistake.
  NOT_FOUND: CNI_ERROR.INVALID_CONFIG,
  PERMISSION_DENIED: CNI_ERROR.INVALID_CONFIG,
  ALREADY_EXISTS: CNI_ERROR.ALREADY_ATTACHED,
  EXHAUSTED: CNI_ERROR.NO_ADDRESS,
  CONFLICT: CNI_ERROR.TRY_AGAIN_LATER,
  UNAVAILABLE: CNI_ERROR.TRY_AGAIN_LATER,
  // The daemon is not (yet) a member of a cluster.
  FAILED_PRECONDITION: CNI_ERROR.TRY_AGAIN_LATER,
  CLOSED: CNI_ERROR.TRY_AGAIN_LATER,
  UNAUTHENTICATED: CNI_ERROR.INTERNAL,
  INTERNAL: CNI_ERROR.INTERNAL,
};

/**
 * Maps anything thrown while serving a command to a CniError. The one place daemon error codes
 * become CNI codes: CHECK reads NOT_FOUND as "unknown container" and FAILED_PRECONDITION as a
 * failed check.
 */
export function toCniError(err: unknown, command: string): CniError {
  if (err instanceof CniError) {
    return err;
  }
  if (err instanceof VxmeshError) {
    let code = CODES[err.code];
    if (command === 'CHECK' && err.code === 'NOT_FOUND') {
      code = CNI_ERROR.UNKNOWN_CONTAINER;
    } else if (command === 'CHECK' && err.code === 'FAILED_PRECONDITION') {
      code = CNI_ERROR.CHECK_FAILED;
    }
    return new CniError(code, err.message, err.code, { cause: err });
  }
  return new CniError(CNI_ERROR.INTERNAL, err instanceof Error ? err.message : String(err));
}
