import { credentials } from '@grpc/grpc-js';
import { InternalError, VxmeshError } from '../../common/errors.js';
import { callUnary } from '../../common/rpc/call-unary.js';
import { ClusterControlClient } from '../../gen/vxmesh/v1/control.js';
import type { CreateNetworkRequest } from '../../gen/vxmesh/v1/control.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import type { ExternalEndpoints } from '../../worker/external/index.js';
import type { DockerPluginBackend } from './docker-plugin-backend.js';

const CALL_TIMEOUT_MS = 30_000;

/**
 * The backend vxmeshd gives its Docker plugin: ClusterControl through the daemon's own control
 * socket (so a worker answers FAILED_PRECONDITION exactly as it does to the CLI) and the
 * workload's external endpoints.
 */
export class DaemonDockerPluginBackend implements DockerPluginBackend {
  readonly #client: ClusterControlClient;
  readonly #external: () => ExternalEndpoints | undefined;

  constructor(controlSocket: string, external: () => ExternalEndpoints | undefined) {
    this.#client = new ClusterControlClient(`unix://${controlSocket}`, credentials.createInsecure());
    this.#external = external;
  }

  async getNetwork(ref: string): Promise<Network> {
    const res = await callUnary(this.#client.getNetwork.bind(this.#client), { ref }, `get network ${ref}`, {
      timeoutMs: CALL_TIMEOUT_MS,
    });
    if (!res.network?.network) {
      throw new InternalError(`network ${ref}: the daemon answered without a network`);
    }
    return res.network.network;
  }

  async createNetwork(req: CreateNetworkRequest): Promise<Network> {
    const res = await callUnary(this.#client.createNetwork.bind(this.#client), req, `create network ${req.name}`, {
      timeoutMs: CALL_TIMEOUT_MS,
    });
    if (!res.network) {
      throw new InternalError(`network ${req.name}: the daemon answered without a network`);
    }
    return res.network;
  }

  async removeNetwork(ref: string): Promise<void> {
    await callUnary(this.#client.removeNetwork.bind(this.#client), { ref }, `remove network ${ref}`, {
      timeoutMs: CALL_TIMEOUT_MS,
    });
  }

  external(): ExternalEndpoints {
    const external = this.#external();
    if (!external) {
      throw new VxmeshError(
        'FAILED_PRECONDITION',
        'this vxmeshd is not part of a swarm: run vxmesh swarm init or join first',
      );
    }
    return external;
  }

  close(): void {
    this.#client.close();
  }
}
