import { VxmeshError } from '../common/errors.js';
import { callUnary } from '../common/rpc/call-unary.js';
import { ResourceAllocatorClient } from '../gen/vxmesh/v1/resource.js';
import type { AttachNetworkRequest, AttachNetworkResponse } from '../gen/vxmesh/v1/resource.js';
import { clusterChannelOptions, mutualTlsCredentials } from './cluster-channel.js';
import type { NodeAgent } from './node-agent.js';

const CALL_TIMEOUT_MS = 15_000;

/**
 * Attach and detach calls to the managers with this node's identity, trying the manager the
 * agent is connected to first and then the others. Only transport failures move on to the next
 * manager; an answer (even an error) is final.
 */
export class ResourceClient {
  readonly #agent: NodeAgent;

  constructor(agent: NodeAgent) {
    this.#agent = agent;
  }

  #targets(): string[] {
    const state = this.#agent.state;
    const connected = state.phase === 'connected' ? [state.managerAddr] : [];
    return [...new Set([...connected, ...this.#agent.managerAddrs])];
  }

  async #call<T>(what: string, fn: (client: ResourceAllocatorClient) => Promise<T>): Promise<T> {
    let lastError: unknown = new VxmeshError('UNAVAILABLE', 'no manager address is known');
    for (const addr of this.#targets()) {
      const client = new ResourceAllocatorClient(addr, mutualTlsCredentials(this.#agent.identity), clusterChannelOptions);
      try {
        return await fn(client);
      } catch (err) {
        lastError = err;
        if (!(err instanceof VxmeshError) || err.code !== 'UNAVAILABLE') {
          throw err;
        }
      } finally {
        client.close();
      }
    }
    throw lastError instanceof VxmeshError ? lastError : new VxmeshError('UNAVAILABLE', `${what}: no manager answered`);
  }

  attach(req: AttachNetworkRequest): Promise<AttachNetworkResponse> {
    return this.#call('attach', (c) =>
      callUnary(c.attachNetwork.bind(c), req, `attach to network ${req.network}`, { timeoutMs: CALL_TIMEOUT_MS }),
    );
  }

  /**
   * Removes an endpoint of this node at the managers; one that is already gone resolves.
   * `signal` cancels the call (the daemon stopping).
   */
  async detach(endpointId: string, opts: { readonly signal?: AbortSignal } = {}): Promise<void> {
    await this.#call('detach', (c) =>
      callUnary(c.detachNetwork.bind(c), { endpointId }, `detach endpoint ${endpointId}`, {
        timeoutMs: CALL_TIMEOUT_MS,
        ...(opts.signal ? { signal: opts.signal } : {}),
      }),
    );
  }
}
