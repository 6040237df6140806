import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { sendUnaryData, ServerUnaryCall, UntypedHandleCall } from '@grpc/grpc-js';
import { toServiceError } from '../../src/common/rpc/service-error.js';
import { ClusterControlService, LocalControlService } from '../../src/gen/vxmesh/v1/control.js';
import type {
  ConnectNetworkRequest,
  ConnectNetworkResponse,
  CreateNetworkRequest,
  CreateNetworkResponse,
  DisconnectNetworkRequest,
  DisconnectNetworkResponse,
  GetJoinTokensRequest,
  GetJoinTokensResponse,
  GetNetworkRequest,
  GetNetworkResponse,
  GetNodeRequest,
  GetNodeResponse,
  InfoRequest,
  InfoResponse,
  InspectContainerRequest,
  InspectContainerResponse,
  ListContainersRequest,
  ListContainersResponse,
  ListNetworksRequest,
  ListNetworksResponse,
  ListNodesRequest,
  ListNodesResponse,
  PruneNetworksRequest,
  PruneNetworksResponse,
  RemoveContainerRequest,
  RemoveContainerResponse,
  RemoveNetworkRequest,
  RemoveNetworkResponse,
  RemoveNodeRequest,
  RemoveNodeResponse,
  RotateJoinTokenRequest,
  RotateJoinTokenResponse,
  RunContainerRequest,
  RunContainerResponse,
  StartContainerRequest,
  StartContainerResponse,
  StopContainerRequest,
  StopContainerResponse,
  SwarmInitRequest,
  SwarmInitResponse,
  SwarmJoinRequest,
  SwarmJoinResponse,
  SwarmLeaveRequest,
  SwarmLeaveResponse,
  UpdateNodeRequest,
  UpdateNodeResponse,
} from '../../src/gen/vxmesh/v1/control.js';

/** One canned answer: a response, or an error thrown as the real daemon's handlers would. */
export type CannedHandler<Req, Res> = (request: Req) => Res | Promise<Res>;

/** Canned LocalControl answers; unset methods answer UNIMPLEMENTED. */
export interface FakeLocalControl {
  swarmInit?: CannedHandler<SwarmInitRequest, SwarmInitResponse>;
  swarmJoin?: CannedHandler<SwarmJoinRequest, SwarmJoinResponse>;
  swarmLeave?: CannedHandler<SwarmLeaveRequest, SwarmLeaveResponse>;
  info?: CannedHandler<InfoRequest, InfoResponse>;
  runContainer?: CannedHandler<RunContainerRequest, RunContainerResponse>;
  listContainers?: CannedHandler<ListContainersRequest, ListContainersResponse>;
  inspectContainer?: CannedHandler<InspectContainerRequest, InspectContainerResponse>;
  startContainer?: CannedHandler<StartContainerRequest, StartContainerResponse>;
  stopContainer?: CannedHandler<StopContainerRequest, StopContainerResponse>;
  removeContainer?: CannedHandler<RemoveContainerRequest, RemoveContainerResponse>;
  connectNetwork?: CannedHandler<ConnectNetworkRequest, ConnectNetworkResponse>;
  disconnectNetwork?: CannedHandler<DisconnectNetworkRequest, DisconnectNetworkResponse>;
}

/** Canned ClusterControl answers; unset methods answer UNIMPLEMENTED. */
export interface FakeClusterControl {
  listNodes?: CannedHandler<ListNodesRequest, ListNodesResponse>;
  getNode?: CannedHandler<GetNodeRequest, GetNodeResponse>;
  updateNode?: CannedHandler<UpdateNodeRequest, UpdateNodeResponse>;
  removeNode?: CannedHandler<RemoveNodeRequest, RemoveNodeResponse>;
  getJoinTokens?: CannedHandler<GetJoinTokensRequest, GetJoinTokensResponse>;
  rotateJoinToken?: CannedHandler<RotateJoinTokenRequest, RotateJoinTokenResponse>;
  createNetwork?: CannedHandler<CreateNetworkRequest, CreateNetworkResponse>;
  listNetworks?: CannedHandler<ListNetworksRequest, ListNetworksResponse>;
  getNetwork?: CannedHandler<GetNetworkRequest, GetNetworkResponse>;
  removeNetwork?: CannedHandler<RemoveNetworkRequest, RemoveNetworkResponse>;
  pruneNetworks?: CannedHandler<PruneNetworksRequest, PruneNetworksResponse>;
}

/** A request the fake daemon received, for asserting what the CLI sent. */
export interface ReceivedCall {
  readonly method: string;
  readonly request: unknown;
}

/**
 * LocalControl + ClusterControl on a unix socket in a temp dir, with insecure credentials like
 * the real daemon's local socket. Unset methods answer UNIMPLEMENTED. Errors thrown by a handler
 * go through `toServiceError`, the same mapping the daemon uses.
 */
export class FakeDaemon {
  readonly calls: ReceivedCall[] = [];
  local: FakeLocalControl = {};
  cluster: FakeClusterControl = {};

  private constructor(
    private readonly server: Server,
    private readonly dir: string,
    /** `unix:///...` to pass as -H. */
    readonly host: string,
  ) {}

  static async start(): Promise<FakeDaemon> {
    const dir = await mkdtemp(join(tmpdir(), 'vxmesh-cli-'));
    const socketPath = join(dir, 'vxmesh.sock');
    const server = new Server();
    const daemon = new FakeDaemon(server, dir, `unix://${socketPath}`);
    server.addService(
      LocalControlService,
      daemon.implement(LocalControlService, () => daemon.local),
    );
    server.addService(
      ClusterControlService,
      daemon.implement(ClusterControlService, () => daemon.cluster),
    );
    await new Promise<void>((resolve, reject) => {
      server.bindAsync(daemon.host, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve()));
    });
    return daemon;
  }

  /** Forgets handlers and recorded calls between tests. */
  reset(): void {
    this.calls.length = 0;
    this.local = {};
    this.cluster = {};
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.tryShutdown(() => resolve()));
    await rm(this.dir, { recursive: true, force: true });
  }

  // Handlers are looked up per call so tests can swap them after the server has started.
  private implement(service: object, handlers: () => object): Record<string, UntypedHandleCall> {
    const impl: Record<string, UntypedHandleCall> = {};
    for (const method of Object.keys(service)) {
      impl[method] = (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
        this.calls.push({ method, request: call.request });
        const handler = (handlers() as Record<string, CannedHandler<unknown, unknown> | undefined>)[method];
        if (handler === undefined) {
          callback({ code: status.UNIMPLEMENTED, details: `fake daemon: ${method} not set up` });
          return;
        }
        Promise.resolve()
          .then(() => handler(call.request))
          .then(
            (res) => callback(null, res),
            (err: unknown) => callback(toServiceError(err)),
          );
      };
    }
    return impl;
  }
}
