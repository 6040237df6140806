import { credentials } from '@grpc/grpc-js';
import { UnavailableError, VxmeshError } from '../common/errors.js';
import { callUnary } from '../common/rpc/call-unary.js';
import type { UnaryMethod } from '../common/rpc/call-unary.js';
import { LocalControlClient } from '../gen/vxmesh/v1/control.js';
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
import type { CniDaemon } from './cni-daemon.js';

/**
 * An ADD waits for the managers' allocation, a dataplane pass and the resolver's bind; runtimes
 * time plugins out themselves (Podman, kubelet: minutes), this only bounds a hung daemon.
 */
const ATTACH_TIMEOUT_MS = 120_000;
const OTHER_TIMEOUT_MS = 60_000;

/**
 * {@link CniDaemon} over gRPC on vxmeshd's unix socket, insecure like the CLI's: the socket is
 * root-only and its permissions are the authentication.
 */
export class GrpcCniDaemon implements CniDaemon {
  readonly #client: LocalControlClient;
  readonly #socketPath: string;
  #closed = false;

  constructor(socketPath: string) {
    this.#socketPath = socketPath;
    this.#client = new LocalControlClient(`unix://${socketPath}`, credentials.createInsecure());
  }

  async #call<Req, Res>(method: UnaryMethod<Req, Res>, req: Req, what: string, timeoutMs: number): Promise<Res> {
    try {
      return await callUnary(method, req, what, { timeoutMs });
    } catch (err) {
      if (err instanceof VxmeshError && err.code === 'UNAVAILABLE' && !err.message.includes(this.#socketPath)) {
        throw new UnavailableError(`${err.message} (vxmeshd at ${this.#socketPath})`, { cause: err });
      }
      throw err;
    }
  }

  attach(req: AttachNamespaceRequest): Promise<AttachNamespaceResponse> {
    return this.#call(
      this.#client.attachNamespace.bind(this.#client),
      req,
      `attach ${req.containerId} to ${req.network}`,
      ATTACH_TIMEOUT_MS,
    );
  }

  detach(req: DetachNamespaceRequest): Promise<DetachNamespaceResponse> {
    return this.#call(
      this.#client.detachNamespace.bind(this.#client),
      req,
      `detach ${req.containerId}`,
      OTHER_TIMEOUT_MS,
    );
  }

  check(req: CheckNamespaceRequest): Promise<CheckNamespaceResponse> {
    return this.#call(
      this.#client.checkNamespace.bind(this.#client),
      req,
      `check ${req.containerId}`,
      OTHER_TIMEOUT_MS,
    );
  }

  gc(req: GcNamespacesRequest): Promise<GcNamespacesResponse> {
    return this.#call(
      this.#client.gcNamespaces.bind(this.#client),
      req,
      `garbage-collect ${req.origin}`,
      OTHER_TIMEOUT_MS,
    );
  }

  info(): Promise<InfoResponse> {
    return this.#call(this.#client.info.bind(this.#client), {}, 'vxmeshd info', OTHER_TIMEOUT_MS);
  }

  close(): void {
    if (!this.#closed) {
      this.#closed = true;
      this.#client.close();
    }
  }
}
