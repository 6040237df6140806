import type {
  AttachNamespaceRequest,
  AttachNamespaceResponse,
  CheckNamespaceRequest,
  CheckNamespaceResponse,
  DetachNamespaceRequest,
  DetachNamespaceResponse,
  GcNamespacesRequest,
  GcNamespacesResponse,
  InfoResponse,
} from '../gen/vxmesh/v1/control.js';

/**
 * What the plugin asks of the local vxmeshd (LocalControl's namespace RPCs). Every method fails
 * with a VxmeshError; a daemon that cannot be reached fails with code UNAVAILABLE.
 */
export interface CniDaemon {
  attach(req: AttachNamespaceRequest): Promise<AttachNamespaceResponse>;
  detach(req: DetachNamespaceRequest): Promise<DetachNamespaceResponse>;
  check(req: CheckNamespaceRequest): Promise<CheckNamespaceResponse>;
  gc(req: GcNamespacesRequest): Promise<GcNamespacesResponse>;
  info(): Promise<InfoResponse>;
  /** Releases the connection. Idempotent. */
  close(): void;
}

/** Opens a client for the daemon listening on the unix socket at `socketPath`. */
export type CniDaemonConnector = (socketPath: string) => CniDaemon;
