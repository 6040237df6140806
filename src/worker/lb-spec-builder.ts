/**
 * The load-balancing part of the node's dataplane spec (docs/services.md, "Load balancing"), from
 * what the managers assigned (services with their VIPs and ports, task endpoints with `serving`,
 * this node's tasks and ingress endpoint) and the local containers. Pure: same inputs, same spec.
 *
 * - VIP: every local container namespace on a network where a service has a VIP gets, per port of
 *   the service, the frontend VIP . proto . target port → serving task addresses on that network.
 * - Routing mesh: with this node's ingress endpoint assigned, the ingress sandbox gets one
 *   frontend per ingress-mode published port (its egress address . proto . published port →
 *   serving task addresses on the ingress network . target port), and the daemon namespace DNATs
 *   the published port to the sandbox.
 * - Host mode: the daemon namespace DNATs a local task's published port to the task's egress
 *   address . target port.
 */
import { Container, ContainerNetwork, ContainerState } from '../gen/vxmesh/v1/container.js';
import type { Assignment } from '../gen/vxmesh/v1/dispatcher.js';
import { EndpointKind } from '../gen/vxmesh/v1/endpoint.js';
import type { Endpoint } from '../gen/vxmesh/v1/endpoint.js';
import type { Network } from '../gen/vxmesh/v1/network.js';
import { EndpointMode, PublishMode } from '../gen/vxmesh/v1/service.js';
import type { PortConfig, Service } from '../gen/vxmesh/v1/service.js';
import { TaskState } from '../gen/vxmesh/v1/task.js';
import type { Task } from '../gen/vxmesh/v1/task.js';
import type {
  LbBackendSpec,
  LbFrontendSpec,
  LbNamespaceSpec,
  LbProtocol,
  LoadBalancingSpec,
  PublishedPortSpec,
} from '../vxlan/dataplane-spec.js';
import { INGRESS_SANDBOX_CONTAINER_ID, INGRESS_SANDBOX_OVERLAY_IF, ingressSandboxName } from '../vxlan/lb/lb-names.js';
import type { LocalAttachment } from './containers/container-runtime.js';

/** What the LB spec is computed from (a subset of the dataplane builder's inputs). */
export interface LbInputs {
  readonly nodeId: string;
  readonly namespacePrefix: string;
  /** The cluster's VXLAN port: never published (it would capture the overlay's own traffic). */
  readonly dataPathPort: number;
  readonly assignments: ReadonlyMap<string, Assignment>;
  /** Attached endpoints of local containers. */
  readonly attachments: readonly LocalAttachment[];
  /** The egress bridge's gateway with prefix, e.g. "172.18.0.1/16"; absent: no egress, no sandbox. */
  readonly egressGatewayCidr?: string;
}

/** This node's ingress sandbox, when it has one. */
export interface IngressSandbox {
  readonly namespace: string;
  /** The node's ingress endpoint (eth0 of the sandbox). */
  readonly endpoint: Endpoint;
  /** Its egress address with prefix: the last usable address of the egress subnet. */
  readonly egressCidr: string;
  readonly egressAddr: string;
  /** The sandbox as the dataplane builder takes local containers: eth0 on ingress, egress address. */
  readonly attachment: LocalAttachment;
}

function withoutPrefix(cidr: string): string {
  return cidr.split('/')[0] ?? '';
}

function ipv4ToNumber(addr: string): number | undefined {
  const parts = addr.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    return undefined;
  }
  return parts.reduce((n, p) => n * 256 + p, 0);
}

function numberToIpv4(n: number): string {
  return [24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join('.');
}

/**
 * The last usable address of the subnet of `gatewayCidr` ("172.18.0.1/16" → "172.18.255.254/16"):
 * the ingress sandbox's egress address. Containers get egress addresses from .2 upwards, so they
 * reach it only when the subnet is full.
 */
export function lastUsableAddress(gatewayCidr: string): string | undefined {
  const [addr = '', prefixText = ''] = gatewayCidr.split('/');
  const n = ipv4ToNumber(addr);
  const prefix = Number(prefixText);
  if (n === undefined || !Number.isInteger(prefix) || prefix < 1 || prefix > 30) {
    return undefined;
  }
  const size = 2 ** (32 - prefix);
  const network = Math.floor(n / size) * size;
  return `${numberToIpv4(network + size - 2)}/${prefix}`;
}

interface Assigned {
  readonly networks: Map<string, Network>;
  readonly services: Service[];
  readonly endpoints: Endpoint[];
  readonly tasks: Task[];
}

function collect(assignments: ReadonlyMap<string, Assignment>): Assigned {
  const out: Assigned = { networks: new Map(), services: [], endpoints: [], tasks: [] };
  for (const a of assignments.values()) {
    switch (a.item?.$case) {
      case 'network': {
        out.networks.set(a.item.value.id, a.item.value);
        break;
      }
      case 'service': {
        out.services.push(a.item.value);
        break;
      }
      case 'endpoint': {
        out.endpoints.push(a.item.value);
        break;
      }
      case 'task': {
        out.tasks.push(a.item.value);
        break;
      }
      default: {
        break;
      }
    }
  }
  out.services.sort((a, b) => a.id.localeCompare(b.id));
  return out;
}

function ingressNetworkOf(assigned: Assigned): Network | undefined {
  return [...assigned.networks.values()].find((n) => n.ingress);
}

/**
 * This node's ingress sandbox: present when the managers assigned this node's load-balancer
 * endpoint on the ingress network and the node has an egress bridge. Both the dataplane builder
 * and the daemon (which creates the namespace) decide from this.
 */
export function ingressSandboxOf(inputs: LbInputs): IngressSandbox | undefined {
  if (inputs.egressGatewayCidr === undefined) {
    return undefined;
  }
  const assigned = collect(inputs.assignments);
  const ingress = ingressNetworkOf(assigned);
  const endpoint = assigned.endpoints.find(
    (e) =>
      e.kind === EndpointKind.ENDPOINT_KIND_LOAD_BALANCER &&
      e.nodeId === inputs.nodeId &&
      e.networkId === ingress?.id &&
      e.ipv4Address !== '' &&
      e.macAddress !== '',
  );
  const egressCidr = lastUsableAddress(inputs.egressGatewayCidr);
  if (ingress === undefined || endpoint === undefined || egressCidr === undefined) {
    return undefined;
  }
  const namespace = ingressSandboxName(inputs.namespacePrefix);
  const network = ContainerNetwork.fromPartial({
    networkId: ingress.id,
    networkName: ingress.name,
    endpointId: endpoint.id,
    ipv4Address: endpoint.ipv4Address,
    macAddress: endpoint.macAddress,
    ifName: INGRESS_SANDBOX_OVERLAY_IF,
  });
  const container = Container.fromPartial({
    id: INGRESS_SANDBOX_CONTAINER_ID,
    name: INGRESS_SANDBOX_CONTAINER_ID,
    state: ContainerState.CONTAINER_STATE_RUNNING,
    namespace,
    networks: [network],
    egressAddress: egressCidr,
  });
  return {
    namespace,
    endpoint,
    egressCidr,
    egressAddr: withoutPrefix(egressCidr),
    attachment: { container, network },
  };
}

function protocolOf(port: PortConfig): LbProtocol | undefined {
  const p = port.protocol.toLowerCase();
  return p === 'tcp' || p === 'udp' ? p : p === '' ? 'tcp' : undefined;
}

function isIngressPort(port: PortConfig): boolean {
  return port.publishedPort > 0 && port.publishMode !== PublishMode.PUBLISH_MODE_HOST;
}

/** Serving task addresses per service and network: `serviceId\0networkId` → addresses. */
function servingAddresses(endpoints: readonly Endpoint[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const e of endpoints) {
    if (e.serviceId === '' || !e.serving || e.ipv4Address === '') {
      continue;
    }
    const key = `${e.serviceId}\0${e.networkId}`;
    const list = out.get(key) ?? [];
    list.push(withoutPrefix(e.ipv4Address));
    out.set(key, list);
  }
  // Sorted by address, the order the driver keeps them in (it then has nothing to sort).
  for (const list of out.values()) {
    list.sort((a, b) => (ipv4ToNumber(a) ?? 0) - (ipv4ToNumber(b) ?? 0));
  }
  return out;
}

function backendsOn(addresses: readonly string[] | undefined, port: number): LbBackendSpec[] {
  return (addresses ?? []).map((addr) => ({ addr, port }));
}

/** The service's ports, one per protocol . target port (several published ports may share a target). */
function distinctTargets(service: Service): { protocol: LbProtocol; target: number }[] {
  const seen = new Set<string>();
  const out: { protocol: LbProtocol; target: number }[] = [];
  for (const port of service.spec?.ports ?? []) {
    const protocol = protocolOf(port);
    if (protocol === undefined || port.targetPort === 0 || seen.has(`${protocol}/${port.targetPort}`)) {
      continue;
    }
    seen.add(`${protocol}/${port.targetPort}`);
    out.push({ protocol, target: port.targetPort });
  }
  return out;
}

/** The LB section of the node's spec; `sandbox` from {@link ingressSandboxOf}. */
export function buildLoadBalancingSpec(inputs: LbInputs, sandbox: IngressSandbox | undefined): LoadBalancingSpec {
  const assigned = collect(inputs.assignments);
  const ingress = ingressNetworkOf(assigned);
  const serving = servingAddresses(assigned.endpoints);

  // VIP frontends per network, computed once and shared by every container on the network.
  const vipFrontends = new Map<string, LbFrontendSpec[]>();
  for (const service of assigned.services) {
    if (service.spec?.endpointMode === EndpointMode.ENDPOINT_MODE_DNSRR) {
      continue;
    }
    const targets = distinctTargets(service);
    for (const vip of service.virtualIps) {
      if (vip.networkId === ingress?.id || vip.addr === '' || targets.length === 0) {
        continue;
      }
      const addresses = serving.get(`${service.id}\0${vip.networkId}`);
      const list = vipFrontends.get(vip.networkId) ?? [];
      for (const t of targets) {
        list.push({
          addr: withoutPrefix(vip.addr),
          protocol: t.protocol,
          port: t.target,
          backends: backendsOn(addresses, t.target),
        });
      }
      vipFrontends.set(vip.networkId, list);
    }
  }

  const byNamespace = new Map<string, LbFrontendSpec[]>();
  for (const { container, network } of inputs.attachments) {
    const frontends = vipFrontends.get(network.networkId);
    if (frontends === undefined || container.namespace === '') {
      continue;
    }
    byNamespace.set(container.namespace, [...(byNamespace.get(container.namespace) ?? []), ...frontends]);
  }
  const namespaces: LbNamespaceSpec[] = [...byNamespace]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([namespace, frontends]) => ({ namespace, hook: 'output' as const, frontends }));

  const published: PublishedPortSpec[] = [];
  const taken = new Set<string>();
  const publish = (p: PublishedPortSpec): void => {
    const key = `${p.protocol}/${p.port}`;
    if (taken.has(key) || (p.protocol === 'udp' && p.port === inputs.dataPathPort)) {
      return;
    }
    taken.add(key);
    published.push(p);
  };

  // Host mode: local tasks' ports, straight to the task (a replacement starting while the old task
  // stops may publish the same port: the one meant to run wins, then the newer).
  const containersByTask = new Map<string, Container>();
  for (const { container } of inputs.attachments) {
    if (container.taskId !== '' && container.egressAddress !== '') {
      containersByTask.set(container.taskId, container);
    }
  }
  const localTasks = assigned.tasks
    .filter((t) => t.nodeId === inputs.nodeId && containersByTask.has(t.id))
    .sort(
      (a, b) =>
        Number(b.desiredState === TaskState.TASK_STATE_RUNNING) -
          Number(a.desiredState === TaskState.TASK_STATE_RUNNING) ||
        Number(b.createdAt - a.createdAt) ||
        a.id.localeCompare(b.id),
    );
  for (const task of localTasks) {
    const egress = withoutPrefix(containersByTask.get(task.id)?.egressAddress ?? '');
    for (const port of task.hostPorts) {
      const protocol = protocolOf(port);
      if (protocol !== undefined && port.publishedPort > 0 && port.targetPort > 0) {
        publish({ protocol, port: port.publishedPort, target: { addr: egress, port: port.targetPort }, mode: 'host' });
      }
    }
  }

  // Routing mesh.
  if (sandbox !== undefined && ingress !== undefined) {
    const frontends: LbFrontendSpec[] = [];
    for (const service of assigned.services) {
      const addresses = serving.get(`${service.id}\0${ingress.id}`);
      for (const port of service.spec?.ports ?? []) {
        const protocol = protocolOf(port);
        if (protocol === undefined || !isIngressPort(port) || port.targetPort === 0) {
          continue;
        }
        const key = `${protocol}/${port.publishedPort}`;
        if (taken.has(key)) {
          continue;
        }
        publish({
          protocol,
          port: port.publishedPort,
          target: { addr: sandbox.egressAddr, port: port.publishedPort },
          mode: 'ingress',
        });
        if (taken.has(key)) {
          frontends.push({
            addr: sandbox.egressAddr,
            protocol,
            port: port.publishedPort,
            backends: backendsOn(addresses, port.targetPort),
          });
        }
      }
    }
    namespaces.push({
      namespace: sandbox.namespace,
      hook: 'prerouting',
      masqueradeOut: INGRESS_SANDBOX_OVERLAY_IF,
      frontends,
    });
  }

  return {
    namespaces,
    publishedPorts: published,
    ...(sandbox === undefined
      ? {}
      : {
          ingressSandbox: {
            namespace: sandbox.namespace,
            egressAddr: sandbox.egressAddr,
            localBackends: ingress === undefined ? [] : localIngressBackends(inputs, ingress),
          },
        }),
  };
}

/**
 * Local tasks on the ingress network with an egress address: ingress address → egress address, so
 * the daemon namespace sends their share of a published port's connections straight to them (the
 * driver keeps the rest for the sandbox). Their egress attachment carries their default route (the
 * dataplane builder gives one to every container not only on internal networks; ingress is not).
 */
function localIngressBackends(inputs: LbInputs, ingress: Network): { addr: string; egressAddr: string }[] {
  if (ingress.internal) {
    return [];
  }
  const out = new Map<string, string>();
  for (const { container, network } of inputs.attachments) {
    if (
      network.networkId === ingress.id &&
      container.taskId !== '' &&
      container.egressAddress !== '' &&
      network.ipv4Address !== ''
    ) {
      out.set(withoutPrefix(network.ipv4Address), withoutPrefix(container.egressAddress));
    }
  }
  return [...out]
    .sort(([a], [b]) => (ipv4ToNumber(a) ?? 0) - (ipv4ToNumber(b) ?? 0))
    .map(([addr, egressAddr]) => ({ addr, egressAddr }));
}
