import { resolve } from 'node:path';
import { InvalidArgumentError } from '../common/errors.js';

/** Where the daemon listens unless `-H` or `VXMESH_HOST` says otherwise. */
export const DEFAULT_DAEMON_HOST = 'unix:///run/vxmesh/vxmesh.sock';

/** A parsed `-H/--host` value. */
export interface DaemonAddress {
  /** As the user wrote it; used in messages so they recognise it. */
  readonly display: string;
  /** Absolute path of the unix socket. */
  readonly socketPath: string;
  /** The same socket as a grpc-js target (`unix:///abs/path`). */
  readonly grpcTarget: string;
}

const SCHEME = 'unix://';

/**
 * Parses `unix:///abs/path` (or `unix://rel/path`, resolved against the working directory).
 * Only unix sockets are accepted: the local API is insecure by design and relies on the socket's
 * file permissions, so it must never be reachable over TCP.
 * @throws InvalidArgumentError naming `-H/--host` for anything else.
 */
export function parseDaemonHost(value: string): DaemonAddress {
  if (!value.startsWith(SCHEME) || value.length === SCHEME.length) {
    throw new InvalidArgumentError('-H/--host', `"${value}" is not a unix socket address like ${DEFAULT_DAEMON_HOST}`);
  }
  const socketPath = resolve(value.slice(SCHEME.length));
  return { display: value, socketPath, grpcTarget: `unix://${socketPath}` };
}
