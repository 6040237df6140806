import { createConnection } from 'node:net';
import { credentials } from '@grpc/grpc-js';
import { InternalError, UnavailableError, VxmeshError } from '../common/errors.js';
import { callUnary } from '../common/rpc/call-unary.js';
import type { UnaryMethod } from '../common/rpc/call-unary.js';
import { ClusterControlClient, LocalControlClient } from '../gen/vxmesh/v1/control.js';
import type {
  InfoResponse,
  JoinTokens,
  NodeView,
  SwarmInitRequest,
  SwarmInitResponse,
  SwarmJoinRequest,
  SwarmJoinResponse,
  UpdateNodeRequest,
} from '../gen/vxmesh/v1/control.js';
import type { NodeRole } from '../gen/vxmesh/v1/node.js';
import type { DaemonApi, NodeRecord } from './daemon-api.js';
import type { DaemonAddress } from './daemon-address.js';

/** The daemon's socket is missing, refuses connections, or may not be opened by this user. */
export class DaemonUnreachableError extends UnavailableError {
  constructor(
    readonly address: DaemonAddress,
    /** errno of a direct connect to the socket (ENOENT, ECONNREFUSED, EACCES, ...). */
    readonly errno: string,
    options?: ErrorOptions,
  ) {
    super(
      errno === 'EACCES' || errno === 'EPERM'
        ? `permission denied while connecting to the vxmesh daemon at ${address.display}: run vxmesh as root`
        : `cannot connect to the vxmesh daemon at ${address.display}: is vxmeshd running?`,
      options,
    );
  }
}

/** How long the reachability probe may take; the socket is local, so this only bounds a hung accept. */
const PROBE_TIMEOUT_MS = 2_000;

/**
 * Connects to the socket directly and reports the errno, or undefined when it accepts. Used only
 * after an UNAVAILABLE failure, to tell "no daemon" from a daemon that answered UNAVAILABLE
 * itself without parsing grpc-js message text.
 */
function probeSocket(path: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const socket = createConnection({ path });
    const done = (errno: string | undefined): void => {
      socket.destroy();
      resolve(errno);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done('ETIMEDOUT'));
    socket.once('connect', () => done(undefined));
    socket.once('error', (err: NodeJS.ErrnoException) => done(err.code ?? 'ECONNREFUSED'));
  });
}

function present(view: NodeView | undefined, what: string): NodeRecord {
  if (view?.node === undefined) {
    throw new InternalError(`${what}: the daemon answered without a node`);
  }
  return { ...view, node: view.node };
}

function presentTokens(tokens: JoinTokens | undefined, what: string): JoinTokens {
  if (tokens === undefined) {
    throw new InternalError(`${what}: the daemon answered without join tokens`);
  }
  return tokens;
}

/**
 * `DaemonApi` over gRPC on the daemon's unix socket. Insecure credentials are deliberate: the
 * socket is root-only, and file permissions are the authentication (as for docker.sock).
 * Both services share one channel, so a command opens one connection.
 */
export class GrpcDaemonClient implements DaemonApi {
  private readonly local: LocalControlClient;
  private readonly cluster: ClusterControlClient;
  private closed = false;

  constructor(private readonly address: DaemonAddress) {
    this.local = new LocalControlClient(address.grpcTarget, credentials.createInsecure());
    this.cluster = new ClusterControlClient(address.grpcTarget, credentials.createInsecure(), {
      channelOverride: this.local.getChannel(),
    });
  }

  private async call<Req, Res>(method: UnaryMethod<Req, Res>, request: Req, what: string): Promise<Res> {
    try {
      return await callUnary(method, request, what);
    } catch (err) {
      if (err instanceof VxmeshError && err.code === 'UNAVAILABLE') {
        const errno = await probeSocket(this.address.socketPath);
        if (errno !== undefined) {
          throw new DaemonUnreachableError(this.address, errno, { cause: err });
        }
      }
      throw err;
    }
  }

  swarmInit(request: SwarmInitRequest): Promise<SwarmInitResponse> {
    return this.call(this.local.swarmInit.bind(this.local), request, 'initialize swarm');
  }

  swarmJoin(request: SwarmJoinRequest): Promise<SwarmJoinResponse> {
    return this.call(this.local.swarmJoin.bind(this.local), request, 'join swarm');
  }

  async swarmLeave(force: boolean): Promise<void> {
    await this.call(this.local.swarmLeave.bind(this.local), { force }, 'leave swarm');
  }

  info(): Promise<InfoResponse> {
    return this.call(this.local.info.bind(this.local), {}, 'read daemon info');
  }

  async listNodes(): Promise<NodeRecord[]> {
    const res = await this.call(this.cluster.listNodes.bind(this.cluster), {}, 'list nodes');
    return res.nodes.map((view) => present(view, 'list nodes'));
  }

  async getNode(ref: string): Promise<NodeRecord> {
    const res = await this.call(this.cluster.getNode.bind(this.cluster), { ref }, `inspect node ${ref}`);
    return present(res.node, `inspect node ${ref}`);
  }

  async updateNode(request: UpdateNodeRequest): Promise<NodeRecord> {
    const what = `update node ${request.ref}`;
    const res = await this.call(this.cluster.updateNode.bind(this.cluster), request, what);
    return present(res.node, what);
  }

  async removeNode(ref: string, force: boolean): Promise<void> {
    await this.call(this.cluster.removeNode.bind(this.cluster), { ref, force }, `remove node ${ref}`);
  }

  async getJoinTokens(): Promise<JoinTokens> {
    const res = await this.call(this.cluster.getJoinTokens.bind(this.cluster), {}, 'read join tokens');
    return presentTokens(res.tokens, 'read join tokens');
  }

  async rotateJoinToken(role: NodeRole): Promise<JoinTokens> {
    const res = await this.call(this.cluster.rotateJoinToken.bind(this.cluster), { role }, 'rotate join token');
    return presentTokens(res.tokens, 'rotate join token');
  }

  close(): void {
    if (!this.closed) {
      this.closed = true;
      // The cluster client rides on the local client's channel; closing that closes both.
      this.local.close();
    }
  }
}
