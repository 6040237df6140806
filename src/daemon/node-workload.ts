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
import { PendingDetaches, unownedEndpoints } from '../worker/detach/index.js';
import type { NodeDataplaneSpec } from '../vxlan/dataplane-spec.js';
import { ingressSandboxName } from '../vxlan/lb/lb-names.js';
import { deleteNamespace, ensureNamespace, namespaceExists } from '../worker/containers/network-namespaces.js';
import type { EncryptionStatus, ResolverCounters } from '../gen/vxmesh/v1/dispatcher.js';
import type { Network } from '../gen/vxmesh/v1/network.js';
import type { AttachNetworkRequest, AttachNetworkResponse } from '../gen/vxmesh/v1/resource.js';
import type { TaskContainerRuntime } from '../worker/tasks/task-runner.js';
import { VxmeshError } from '../common/errors.js';
import { ProcessCommandRunner } from '../vxlan/command-runner-process.js';
import { readBootId } from '../vxlan/ipsec/boot-id.js';
import { probeIpsec, unsupportedMessage } from '../vxlan/ipsec/ipsec-probe.js';
import type { IpsecCapability } from '../vxlan/ipsec/ipsec-probe.js';
import { readIpsecStatus } from '../vxlan/ipsec/ipsec-status.js';
import type { IpsecStatus } from '../vxlan/ipsec/ipsec-status.js';
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
  /** What the kernel can do for encrypted overlays (issue 9); default: the real probe and readers. */
  readonly ipsec?: IpsecSupport;
  /**
   * How long an endpoint the managers place here for a container or attachment with no local
   * record stays before it is released (src/worker/detach); default 30 s. Tests shorten it.
   */
  readonly orphanGraceMs?: number;
}

/** The kernel side of encrypted overlays, as the workload needs it (injected in tests). */
export interface IpsecSupport {
  /** Whether the kernel can enforce encrypted overlays (src/vxlan/ipsec/ipsec-probe.ts). */
  probe(): Promise<IpsecCapability>;
  /** The kernel's boot ID. */
  bootId(): string;
  /** The tunnels' state for `node inspect`. */
  status(spec: NodeDataplaneSpec): Promise<IpsecStatus | undefined>;
}

/** The real kernel: probes and reads through `ip` / `nft` in this process's namespace. */
export function kernelIpsecSupport(namespacePrefix: string): IpsecSupport {
  const runner = new ProcessCommandRunner();
  return {
    probe: () => probeIpsec(runner, { namespacePrefix }),
    bootId: () => readBootId(),
    status: (spec) => readIpsecStatus(runner, spec),
  };
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
  /**
   * Endpoints given up here that the managers have not removed yet (rm or CNI DEL while they were
   * unreachable, or found with no local owner), retried until they are.
   */
  readonly pendingDetaches: PendingDetaches;
  readonly #stopSessionListener: () => void;
  readonly #opts: NodeWorkloadOptions;
  #underlayMtu = 1500;
  #egressSubnet = DEFAULT_EGRESS_SUBNET;
  #loaded = false;
  /** Path MTU per peer data-path address: a number once measured, undefined while probing or unknown. */
  readonly #pathMtus = new Map<string, number | undefined>();
  #probesRunning = 0;
  readonly #ipsecSupport: IpsecSupport;
  /** The probe's verdict; undefined until start() ran it (encrypted overlays refused meanwhile). */
  #ipsec: IpsecCapability | undefined;
  #bootId = '';
  /** The tunnels as last read after a pass. */
  #ipsecStatus: IpsecStatus | undefined;

  constructor(opts: NodeWorkloadOptions) {
    this.#opts = opts;
    this.#ipsecSupport = opts.ipsec ?? kernelIpsecSupport(opts.namespacePrefix);
    const resources = new ResourceClient(opts.agent);
    this.pendingDetaches = new PendingDetaches({
      dataRoot: opts.dataRoot,
      clock: opts.clock,
      detach: (endpointId, o) => resources.detach(endpointId, o),
      sessionUp: () => opts.agent.state.phase === 'connected',
      unownedEndpoints: (pending) =>
        unownedEndpoints(opts.agent.assignments.items.values(), opts.nodeId, this.#heldEndpointIds(pending)),
      ...(opts.orphanGraceMs === undefined ? {} : { orphanGraceMs: opts.orphanGraceMs }),
    });
    // Every reconnect retries the pending detaches at once (the managers may be back).
    this.#stopSessionListener = opts.agent.onSessionEstablished(() => this.pendingDetaches.sessionEstablished());
    const releaseEndpoint = this.pendingDetaches.release.bind(this.pendingDetaches);
    // Encrypted networks on a node that cannot enforce IPsec: the attach is given back and fails.
    // Through the pending detaches: an owner's endpoint still being released is never handed back.
    const attach = (req: AttachNetworkRequest): Promise<AttachNetworkResponse> =>
      this.pendingDetaches.attaching(req.ownerId, async () => {
        const res = await resources.attach(req);
        const refusal = this.#encryptionRefusal(res.network, res.networkName || req.network);
        if (refusal !== undefined) {
          if (res.endpoint) {
            // Failing here is covered: an endpoint no local record holds is released later.
            await resources.detach(res.endpoint.id).catch((err: unknown) => log.warn({ err }, 'could not give back a refused endpoint'));
          }
          throw new VxmeshError('FAILED_PRECONDITION', refusal);
        }
        return res;
      });
    this.dataplane = new DataplaneController({
      // The routing mesh's ingress sandbox namespace must exist before the pass that programs it.
      driver: {
        reconcile: async (spec, signal) => {
          await this.#syncIngressSandbox(spec);
          const report = await opts.driver.reconcile(spec, signal);
          if (spec.encryption === undefined || !spec.overlays.some((o) => o.encrypted === true)) {
            this.#ipsecStatus = undefined;
          } else {
            void this.#ipsecSupport.status(spec).then(
              (status) => {
                this.#ipsecStatus = status;
              },
              (err: unknown) => log.warn({ err }, 'could not read the IPsec state'),
            );
          }
          return report;
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
      attach,
      detach: (endpointId) => resources.detach(endpointId),
      releaseEndpoint,
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
      attach,
      releaseEndpoint,
      endpointsOwnedBy: (ownerId) => endpointsOwnedBy(opts.agent.assignments.items.values(), opts.nodeId, ownerId),
      reconcile: () => {
        this.dns.refresh();
        return this.dataplane.reconcileNow();
      },
      dataplaneError: () => this.dataplane.lastError,
      dns: { prepare: (c) => this.dns.prepare(c), release: (id) => this.dns.release(id) },
    });
    this.tasks = new TaskRunner({ nodeId: opts.nodeId, agent: opts.agent, runtime: this.#taskRuntime(), clock: opts.clock });
    // Heartbeats carry the encrypted-overlay state (the agent exists before the workload).
    opts.agent.encryptionStatus = () => this.encryptionStatus();
  }

  /** The container runtime as tasks use it: a task on an encrypted network is refused here when the kernel cannot enforce it. */
  #taskRuntime(): TaskContainerRuntime {
    const runtime = this.runtime;
    return {
      list: (all) => runtime.list(all),
      runTask: (task, networks) => {
        for (const n of task.networks) {
          const refusal = this.#encryptionRefusal(networks.get(n.networkId) ?? runtime.networks.get(n.networkId), n.networkName || n.networkId);
          if (refusal !== undefined) {
            return Promise.reject(new VxmeshError('FAILED_PRECONDITION', refusal));
          }
        }
        return runtime.runTask(task, networks);
      },
      stop: (ref, timeoutSeconds) => runtime.stop(ref, timeoutSeconds),
      remove: (ref, force) => runtime.remove(ref, force),
      onContainerExit: (listener) => runtime.onContainerExit(listener),
    };
  }

  /** Why this node refuses `network`, or undefined when it may carry it. */
  #encryptionRefusal(network: Network | undefined, name: string): string | undefined {
    if (network?.encrypted !== true || this.#ipsec?.supported === true) {
      return undefined;
    }
    return unsupportedMessage(name, this.#ipsec ?? { supported: false, missing: ['the IPsec probe has not run yet'], detail: '' });
  }

  async start(): Promise<void> {
    this.#bootId = this.#ipsecSupport.bootId();
    this.#ipsec = await this.#ipsecSupport.probe().catch((err: unknown): IpsecCapability => ({
      supported: false,
      missing: ['a working IPsec probe'],
      detail: err instanceof Error ? err.message : String(err),
    }));
    if (this.#ipsec.supported) {
      log.info('kernel can enforce encrypted overlays');
    } else {
      log.warn({ missing: this.#ipsec.missing, detail: this.#ipsec.detail }, 'kernel cannot enforce encrypted overlays; they are refused on this node');
    }
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
    // Before the containers: an exited container found at load gives its endpoints back through it.
    await this.pendingDetaches.load();
    await this.runtime.load();
    await this.external.load();
    // After every local record is loaded: the check for endpoints without a local owner reads them.
    this.pendingDetaches.start();
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

  /**
   * Encrypted overlays on this node, for heartbeats (`node inspect`): whether the kernel can
   * enforce them, what is wrong, and every tunnel's SAs as last read. Undefined before start().
   */
  encryptionStatus(): EncryptionStatus | undefined {
    const capability = this.#ipsec;
    if (capability === undefined) {
      return undefined;
    }
    const errors: string[] = [];
    if (!capability.supported) {
      // Encrypted networks something here is (still) attached to, none of which gets an overlay.
      const refused = new Set(
        [...this.runtime.attachments(), ...this.external.attachments()]
          .filter(({ network }) => this.#networkOf(network.networkId)?.encrypted === true)
          .map(({ network }) => network.networkName || network.networkId),
      );
      errors.push(
        refused.size > 0
          ? unsupportedMessage([...refused].join(', '), capability)
          : `this node's kernel cannot enforce IPsec (missing: ${capability.missing.join(', ')}); encrypted networks are refused here` +
              (capability.detail === '' ? '' : ` [${capability.detail}]`),
      );
    }
    const status = capability.supported ? this.#ipsecStatus : undefined;
    errors.push(...(status?.errors ?? []));
    const heldBack = this.dataplane.lastReport?.heldBack ?? [];
    if (capability.supported && heldBack.length > 0) {
      errors.push(`encrypted overlays not built yet: ${heldBack.join(', ')}`);
    }
    return {
      supported: capability.supported,
      error: errors.join('; '),
      keyTags: [...(status?.keyTags ?? [])],
      txTag: status?.txTag ?? 0,
      tunnels: (status?.tunnels ?? []).map((t) => ({
        nodeId: t.nodeId,
        addr: t.addr,
        state: t.state,
        txSpi: t.txSpi ?? 0,
        txPackets: BigInt(t.txPackets),
        rxSas: t.rxSas,
        rxPackets: BigInt(t.rxPackets),
        replayDropped: BigInt(t.replayDropped),
        integrityFailed: BigInt(t.integrityFailed),
      })),
      plaintextDropped: BigInt(status?.plaintextDropped ?? 0),
      xfrmErrors: Object.fromEntries(Object.entries(status?.xfrmErrors ?? {}).map(([k, v]) => [k, BigInt(v)])),
    };
  }

  #networkOf(networkId: string): Network | undefined {
    const a = this.#opts.agent.assignments.items.get(`network/${networkId}`);
    return a?.item?.$case === 'network' ? a.item.value : (this.runtime.networks.get(networkId) ?? this.external.networks.get(networkId));
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
      ...(this.#ipsec?.supported === true ? { ipsec: { bootId: this.#bootId } } : {}),
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

  /** Endpoint IDs a local record holds: containers, external attachments and pending detaches. */
  #heldEndpointIds(pending: ReadonlySet<string>): Set<string> {
    const held = new Set(pending);
    for (const c of this.runtime.list(true)) {
      for (const n of c.networks) {
        held.add(n.endpointId);
      }
    }
    for (const a of this.external.list()) {
      held.add(a.endpointId);
    }
    return held;
  }

  async close(): Promise<void> {
    this.#stopSessionListener();
    await this.tasks.close();
    await this.dataplane.close();
    await this.runtime.close();
    await this.external.close();
    // After the runtimes: a removal in flight may still record a pending detach.
    await this.pendingDetaches.close();
    await this.dns.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
