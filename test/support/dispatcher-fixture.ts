import { systemClock } from '../../src/common/clock.js';
import type { Clock } from '../../src/common/clock.js';
import { parseHostPort } from '../../src/common/net/host-port.js';
import type { TlsIdentity } from '../../src/common/tls/mutable-certificate-provider.js';
import type { KvStore } from '../../src/kvstore/index.js';
import { Endpoint, EndpointKind } from '../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../src/gen/vxmesh/v1/network.js';
import { Node, NodeAvailability, NodeRole } from '../../src/gen/vxmesh/v1/node.js';
import { initializeCluster } from '../../src/manager/cluster-init.js';
import { Manager } from '../../src/manager/manager.js';
import type { ManagerOptions } from '../../src/manager/manager.js';
import { encodeMessage } from '../../src/manager/store/message-codec.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { joinCluster } from '../../src/worker/join-cluster.js';
import { NodeAgent } from '../../src/worker/node-agent.js';
import { freePort } from './etcd-server.js';

/** A cluster in this process: managers and agents on loopback over one store, records written directly. */
export class DispatcherFixture implements AsyncDisposable {
  readonly store: KvStore;
  readonly managers: Manager[] = [];
  readonly agents: NodeAgent[] = [];
  managerAddrs: string[] = [];
  #token = '';
  #managerIdentity: { nodeId: string; identity: TlsIdentity } | undefined;

  readonly #orchestrator: boolean;

  /**
   * @param opts.orchestrator run the service orchestrator in the managers (default false: the
   *   dispatcher tests write tasks and endpoints by hand, and the orchestrator would act on them
   *   and add every node's ingress endpoint).
   */
  constructor(store: KvStore, opts: { readonly orchestrator?: boolean } = {}) {
    this.store = store;
    this.#orchestrator = opts.orchestrator ?? false;
  }

  /** Initialises the cluster in the store (first call) and starts a manager on a free port. */
  async startManager(
    clock: Clock = systemClock,
    tuning?: ManagerOptions['dispatcherTuning'],
  ): Promise<{ manager: Manager; addr: string }> {
    const port = await freePort();
    const addr = `127.0.0.1:${port}`;
    let nodeId = this.#managerIdentity?.nodeId ?? '';
    if (this.#managerIdentity) {
      // Every manager has its own record, so agents learn all their addresses for failover.
      nodeId = `manager-${port}`;
      await this.store.put(
        storeKeys.node(nodeId),
        encodeMessage(
          Node,
          Node.fromPartial({ id: nodeId, hostname: nodeId, role: NodeRole.NODE_ROLE_MANAGER, advertiseAddr: addr }),
        ),
      );
    } else {
      const init = await initializeCluster(
        this.store,
        { hostname: 'manager', advertiseAddr: addr, dataPathAddr: '127.0.0.1' },
        clock,
      );
      this.#token = init.tokens.worker;
      this.#managerIdentity = { nodeId: init.nodeId, identity: init.identity };
      nodeId = init.nodeId;
    }
    const manager = await Manager.start({
      store: this.store,
      nodeId,
      identity: this.#managerIdentity.identity,
      listen: parseHostPort(addr, 2377, 'listen'),
      advertiseAddr: addr,
      clock,
      ...(tuning ? { dispatcherTuning: tuning } : {}),
      ...(this.#orchestrator ? {} : { orchestrator: false as const }),
    });
    this.managers.push(manager);
    this.managerAddrs.push(addr);
    return { manager, addr };
  }

  /** Joins a worker through the first manager and starts its agent (connecting to every manager). */
  async startAgent(hostname: string, clock: Clock = systemClock): Promise<{ nodeId: string; agent: NodeAgent }> {
    const first = this.managerAddrs[0] ?? '';
    const joined = await joinCluster({
      remote: parseHostPort(first, 2377, 'remote'),
      token: this.#token,
      hostname,
      advertiseAddr: `127.0.0.${10 + this.agents.length}:2377`,
      dataPathAddr: `127.0.0.${10 + this.agents.length}`,
      availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    });
    const agent = new NodeAgent({
      identity: joined.identity,
      managerAddrs: this.managerAddrs,
      hostname,
      clock,
      saveIdentity: () => Promise.resolve(),
    });
    agent.start();
    this.agents.push(agent);
    return { nodeId: joined.nodeId, agent };
  }

  async putNetwork(id: string, subnet: string, vni: number): Promise<void> {
    const network = Network.fromPartial({
      id,
      name: id,
      driver: 'overlay',
      attachable: true,
      subnets: [{ subnet, gateway: subnet.replace(/\.0\/\d+$/, '.1'), vni }],
    });
    await this.store.put(storeKeys.network(id), encodeMessage(Network, network));
  }

  async putEndpoint(id: string, networkId: string, nodeId: string, ip: string): Promise<void> {
    const endpoint = Endpoint.fromPartial({
      id,
      networkId,
      nodeId,
      kind: EndpointKind.ENDPOINT_KIND_CONTAINER,
      ownerId: `c-${id}`,
      ownerName: id,
      ipv4Address: `${ip}/24`,
      macAddress: '02:42:00:00:00:01',
    });
    await this.store.put(storeKeys.endpoint(id), encodeMessage(Endpoint, endpoint));
  }

  async deleteEndpoint(id: string): Promise<void> {
    await this.store.delete(storeKeys.endpoint(id));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await Promise.all(this.agents.map((a) => a.close()));
    await Promise.all(this.managers.map((m) => m.close()));
  }
}

/** The keys of what an agent holds, sorted, e.g. ["endpoint/e1", "network/n1", "peer/<id>"]. */
export function heldKeys(agent: NodeAgent): string[] {
  return [...agent.assignments.items.keys()].sort();
}
