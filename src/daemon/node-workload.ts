import { createLogger } from '../common/logger.js';
import type { Clock } from '../common/clock.js';
import type { DataplaneReconciler } from '../worker/dataplane-controller.js';
import { DataplaneController } from '../worker/dataplane-controller.js';
import { buildDataplaneSpec } from '../worker/dataplane-spec-builder.js';
import { ContainerRuntime } from '../worker/containers/container-runtime.js';
import { TaskRunner } from '../worker/tasks/task-runner.js';
import type { NodeAgent } from '../worker/node-agent.js';
import { ResourceClient } from '../worker/resource-client.js';
import { RawSocketPathMtuProbe } from '../worker/path-mtu-probe.js';
import { underlayMtu } from '../worker/underlay-mtu.js';
import { chooseEgressSubnet } from '../worker/egress-subnet.js';
import { EmbeddedDns, NetnsDnsDriver, dnsStateFromAssignments } from '../worker/dns/index.js';
import type { DnsNamespaceDriver } from '../worker/dns/index.js';
import { ExternalEndpoints, LinuxExternalNamespaceDriver, endpointsOwnedBy } from '../worker/external/index.js';
import type { ExternalNamespaceDriver } from '../worker/external/index.js';
import type { NodeDataplaneSpec } from '../vxlan/dataplane-spec.js';
import { ingressSandboxName } from '../vxlan/lb/lb-names.js';
import { deleteNamespace, ensureNamespace, namespaceExists } from '../worker/containers/network-namespaces.js';
import type { ResolverCounters } from '../gen/vxmesh/v1/dispatcher.js';
import { resolverCounters } from './resolver-counters.js';

const log = createLogger('daemon.workload');

/** Full dataplane pass even without changes, to repair out-of-band tampering. */
const RESYNC_MS = 30_000;
/** Path-MTU probes that may run at once (each is a few ICMP echoes of up to 250 ms). */
const MAX_CONCURRENT_PROBES = 4;
export const DEFAULT_EGRESS_SUBNET = '172.18.0.0/16';
const EGRESS_BRIDGE = 'vx_gwbridge';

export interface NodeWorkloadOptions {
  readonly dataRoot: string;
  readonly namespacePrefix: string;
  readonly nodeId: string;
  readonly dataPathAddr: string;
  /** Last known cluster VXLAN port (saved state), until the session says it. */
  readonly dataPathPort: number;
  readonly agent: NodeAgent;
  readonly driver: DataplaneReconciler;
  readonly clock: Clock;
  /** Embedded DNS sockets and files in container namespaces; default: the real netns driver. */
  readonly dnsDriver?: DnsNamespaceDriver;
  /** Namespaces of other runtimes (CNI, Docker plugin); default: the real bind-mount/ip driver. */
  readonly externalDriver?: ExternalNamespaceDriver;
}

/**
 * What a member node runs locally: its containers and the dataplane that connects them, driven
 * level-triggered from the managers' assignments and the container records.
 */
export class NodeWorkload implements AsyncDisposable {
  readonly runtime: ContainerRuntime;
  readonly dataplane: DataplaneController;
  /** The containers' resolvers at 127.0.0.11 (issue 7); records follow assignments and containers. */
  readonly dns: EmbeddedDns;
  /** Namespaces other runtimes created (CNI plugin, Docker plugin; issue 11), attached as endpoints. */
  readonly external: ExternalEndpoints;
  /** Runs this node's service tasks (issue 8), from the assignments and the container records. */
  readonly tasks: TaskRunner;
  readonly #opts: NodeWorkloadOptions;
  #underlayMtu = 1500;
  #egressSubnet = DEFAULT_EGRESS_SUBNET;
  #loaded = false;
  /** Path MTU per peer data-path address: a number once measured, undefined while probing or unknown. */
  readonly #pathMtus = new Map<string, number | undefined>();
  #probesRunning = 0;

  constructor(opts: NodeWorkloadOptions) {
    this.#opts = opts;
    const resources = new ResourceClient(opts.agent);
    this.dataplane = new DataplaneController({
      // The routing mesh's ingress sandbox namespace must exist before the pass that programs it.
      driver: {
        reconcile: async (spec, signal) => {
          await this.#syncIngressSandbox(spec);
          return opts.driver.reconcile(spec, signal);
        },
      },
      desired: () => this.desiredSpec(),
      clock: opts.clock,
      resyncMs: RESYNC_MS,
    });
    // --- Embedded DNS (issue 7): refreshed on every assignments message and container change.
    this.dns = new EmbeddedDns({
      driver: opts.dnsDriver ?? new NetnsDnsDriver(),
      desired: () =>
        dnsStateFromAssignments({
          nodeId: opts.nodeId,
          assignments: opts.agent.assignments.items.values(),
          containers: [...this.runtime.list(true), ...this.external.containers()],
          knownNetworks: new Map([...this.runtime.networks, ...this.external.networks]),
        }),
    });
    this.runtime = new ContainerRuntime({
      dataRoot: opts.dataRoot,
      namespacePrefix: opts.namespacePrefix,
      clock: opts.clock,
      attach: (req) => resources.attach(req),
      detach: (endpointId) => resources.detach(endpointId),
      staleEndpoints: (network, ownerName) => this.#staleEndpoints(network, ownerName),
      reconcile: () => {
        this.dns.refresh();
        return this.dataplane.reconcileNow();
      },
      egressSubnet: () => this.#egressSubnet,
      dns: {
        prepare: (container) => this.dns.prepare(container),
        release: (containerId) => this.dns.release(containerId),
      },
    });
    this.external = new ExternalEndpoints({
      dataRoot: opts.dataRoot,
      namespacePrefix: opts.namespacePrefix,
      clock: opts.clock,
      driver: opts.externalDriver ?? new LinuxExternalNamespaceDriver(),
      attach: (req) => resources.attach(req),
      detach: (endpointId) => resources.detach(endpointId),
      endpointsOwnedBy: (ownerId) => endpointsOwnedBy(opts.agent.assignments.items.values(), opts.nodeId, ownerId),
      reconcile: () => {
        this.dns.refresh();
        return this.dataplane.reconcileNow();
      },
      dataplaneError: () => this.dataplane.lastError,
      dns: { prepare: (c) => this.dns.prepare(c), release: (id) => this.dns.release(id) },
    });
    this.tasks = new TaskRunner({ nodeId: opts.nodeId, agent: opts.agent, runtime: this.runtime, clock: opts.clock });
  }

  async start(): Promise<void> {
    this.#underlayMtu = await underlayMtu(this.#opts.dataPathAddr).catch((err: unknown) => {
      log.warn({ err }, 'could not read the underlay MTU; assuming 1500');
      return 1500;
    });
    await this.dns.start();
    const egress = await chooseEgressSubnet(EGRESS_BRIDGE).catch((err: unknown) => {
      log.warn({ err }, 'could not read the routes; using the default egress subnet');
      return { subnet: DEFAULT_EGRESS_SUBNET, free: false };
    });
    this.#egressSubnet = egress.subnet;
    if (!egress.free) {
      log.warn(
        { subnet: egress.subnet },
        'every candidate egress subnet overlaps a route here; containers may not reach it',
      );
    }
    await this.runtime.load();
    await this.external.load();
    this.#loaded = true;
    this.dataplane.start();
    // Converge from saved assignments at once: a restart must not wait for the managers.
    this.dataplane.request();
    // After the records are loaded: running task containers are adopted, not taken for missing.
    this.tasks.start();
  }

  /** The embedded DNS counters as heartbeats carry them (NodeAgentOptions.resolverCounters). */
  resolverCounters(): ResolverCounters {
    return resolverCounters(this.dns.counters);
  }

  /** Called when the assignments change. */
  onAssignments(): void {
    this.dns.refresh();
    this.dataplane.request();
    this.tasks.onAssignments();
  }

  /**
   * The measured path MTU toward a peer's data-path address; the first ask starts a probe in the
   * background (a few at a time), and its result triggers another dataplane pass.
   */
  #pathMtuOf(vtep: string): number | undefined {
    const known = this.#pathMtus.get(vtep);
    if (known === undefined && !this.#pathMtus.has(vtep) && this.#probesRunning < MAX_CONCURRENT_PROBES) {
      this.#pathMtus.set(vtep, undefined);
      this.#probesRunning++;
      new RawSocketPathMtuProbe(this.#underlayMtu)
        .probe(vtep)
        .then(
          (mtu) => {
            this.#pathMtus.set(vtep, mtu);
            if (mtu !== undefined && mtu < this.#underlayMtu) {
              log.info({ vtep, mtu, underlayMtu: this.#underlayMtu }, 'path to peer is narrower than the underlay');
              this.dataplane.request();
            }
          },
          (err: unknown) => log.warn({ err, vtep }, 'path MTU probe failed; using the interface MTU'),
        )
        .finally(() => {
          this.#probesRunning--;
        });
    }
    return known;
  }

  /** The MTU of every overlay as the last completed pass programmed it (not rebuilt per heartbeat). */
  overlayMtus(): Record<string, number> {
    return Object.fromEntries((this.dataplane.lastSpec?.overlays ?? []).map((o) => [o.networkId, o.mtu]));
  }

  desiredSpec(): NodeDataplaneSpec | undefined {
    if (!this.#loaded) {
      // Until the container records are loaded the spec would have no local endpoints, and a pass
      // would tear down every overlay of a restarted node (its session starts first).
      return undefined;
    }
    const port = this.#opts.agent.dataPathPort || this.#opts.dataPathPort;
    if (port === 0) {
      return undefined;
    }
    const [base = '', prefix = '16'] = this.#egressSubnet.split('/');
    const gateway = base.replace(/\.0$/, '.1');
    return buildDataplaneSpec({
      nodeId: this.#opts.nodeId,
      namespacePrefix: this.#opts.namespacePrefix,
      dataPathAddr: this.#opts.dataPathAddr,
      dataPathPort: port,
      underlayMtu: this.#underlayMtu,
      pathMtuOf: (vtep) => this.#pathMtuOf(vtep),
      assignments: this.#opts.agent.assignments.items,
      attachedNetworks: new Map([...this.runtime.networks, ...this.external.networks]),
      attachments: [...this.runtime.attachments(), ...this.external.attachments()],
      egress: { bridge: EGRESS_BRIDGE, gatewayCidr: `${gateway}/${prefix}` },
    });
  }

  /** Creates the ingress sandbox namespace when the spec has one, deletes it when it has not. */
  async #syncIngressSandbox(spec: NodeDataplaneSpec): Promise<void> {
    const name = ingressSandboxName(this.#opts.namespacePrefix);
    try {
      if (spec.loadBalancing?.ingressSandbox !== undefined) {
        if (!(await namespaceExists(name))) {
          await ensureNamespace(name);
        }
      } else if (spec.loadBalancing !== undefined) {
        await deleteNamespace(name);
      }
    } catch (err) {
      log.warn({ err, namespace: name }, 'could not create or delete the ingress sandbox namespace');
    }
  }

  #staleEndpoints(network: string, ownerName: string): string[] {
    const out: string[] = [];
    const networks = new Map<string, string>();
    for (const a of this.#opts.agent.assignments.items.values()) {
      if (a.item?.$case === 'network') {
        networks.set(a.item.value.id, a.item.value.name);
      }
    }
    for (const a of this.#opts.agent.assignments.items.values()) {
      if (a.item?.$case !== 'endpoint') {
        continue;
      }
      const ep = a.item.value;
      const matchesNetwork =
        ep.networkId === network || networks.get(ep.networkId) === network || ep.networkId.startsWith(network);
      if (ep.nodeId === this.#opts.nodeId && ep.ownerName === ownerName && matchesNetwork) {
        out.push(ep.id);
      }
    }
    return out;
  }

  async close(): Promise<void> {
    await this.tasks.close();
    await this.dataplane.close();
    await this.runtime.close();
    await this.external.close();
    await this.dns.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
