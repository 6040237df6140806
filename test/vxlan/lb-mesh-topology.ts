/**
 * A routing-mesh topology on three test hosts, for lb-mesh.test.ts and bench/lb.ts:
 *
 *   host 0 (node 0): ingress sandbox, client container `cc` on the app network; no task
 *   host 1 (node 1): ingress sandbox, tasks t1..t3 (eth0 ingress, eth1 app, eth2 egress), HTTP on :80;
 *                    with `hairpinClient`, a container `cc1` with only an egress attachment
 *   host 2: "internet" client on the underlay, nothing of vxmesh
 *
 * Service `web`: VIP 10.60.0.100 on the app network (port 80), ingress-published 8080 → 80 on every
 * node, host-mode 9090 → t1:80 on node 1. Specs are written by hand the way the worker's builder
 * shapes them (sandbox = eth0 on ingress + eth1 at the last egress address).
 */
import { runCommand } from '../support/command.js';
import type {
  EgressAttachmentSpec,
  EgressSpec,
  LbBackendSpec,
  LbNamespaceSpec,
  NodeDataplaneSpec,
  OverlaySpec,
  ReconcileReport,
} from '../../src/vxlan/dataplane-spec.js';
import { ingressSandboxName } from '../../src/vxlan/lb/lb-names.js';
import { networkId, overlayFor, specFor } from './dataplane-hosts.js';
import type { DataplaneHosts, TestEndpoint } from './dataplane-hosts.js';
import { startHttpServer } from './lb-processes.js';

export const MESH_PORT = 8080;
export const HOST_PORT = 9090;
export const TARGET_PORT = 80;
export const APP_VIP = '10.60.0.100';
export const SANDBOX_EGRESS = '172.18.255.254';
export const TASKS = [
  { name: 't1', ingressIp: '10.255.0.11', appIp: '10.60.0.11', egressIp: '172.18.0.11' },
  { name: 't2', ingressIp: '10.255.0.12', appIp: '10.60.0.12', egressIp: '172.18.0.12' },
  { name: 't3', ingressIp: '10.255.0.13', appIp: '10.60.0.13', egressIp: '172.18.0.13' },
] as const;
export const SANDBOX_INGRESS_IPS = ['10.255.0.2', '10.255.0.3'] as const;
export const CC_APP_IP = '10.60.0.2';
/** Egress addresses of the client containers: `cc` on node 0, `cc1` on node 1. */
export const CC_EGRESS_IP = '172.18.0.2';
export const CC1_EGRESS_IP = '172.18.0.20';
/** The egress bridge and its gateway address, on both nodes. */
export const EGRESS_BRIDGE = 'vxgw0';
export const EGRESS_GATEWAY = '172.18.0.1';

const INGRESS = { id: networkId('1e'), vni: 4096, third: 255, mtu: 1450 };
const APP = { id: networkId('1a'), vni: 4200, third: 60, mtu: 1450 };

/** Variations of the specs. */
export interface MeshSpecOptions {
  readonly localTasks?: readonly string[];
}

/** What to build besides the fixed topology. */
export interface MeshBuildOptions {
  /** Adds container `cc1` on node 1, attached to the egress bridge only (hairpin tests). */
  readonly hairpinClient?: boolean;
}

/** The topology once built: namespaces and specs. */
export interface MeshTopology {
  readonly sandboxes: readonly [string, string];
  readonly taskNamespaces: readonly string[];
  readonly ccNamespace: string;
  /** `cc1`'s namespace on node 1; undefined without `hairpinClient`. */
  readonly cc1Namespace: string | undefined;
  /**
   * Specs of node 0 and node 1 with the given serving tasks (names); `localTasks`: the tasks node 1
   * lists as local backends of its ingress ports (default all; [] sends every connection through
   * its sandbox, as before the daemon namespace balanced them).
   */
  specs(serving?: readonly string[], options?: MeshSpecOptions): [NodeDataplaneSpec, NodeDataplaneSpec];
  /** Reconciles both nodes; the reports. */
  reconcile(serving?: readonly string[], options?: MeshSpecOptions): Promise<[ReconcileReport, ReconcileReport]>;
}

/** Builds namespaces and HTTP servers on `env` (at least 3 hosts), and converges both nodes. */
export async function buildMeshTopology(env: DataplaneHosts, build: MeshBuildOptions = {}): Promise<MeshTopology> {
  const nodes = [env.node(0), env.node(1)];
  const sandboxes: [string, string] = [ingressSandboxName(env.node(0).prefix), ingressSandboxName(env.node(1).prefix)];
  for (const ns of sandboxes) {
    // What node-workload does before the pass.
    await runCommand('ip', ['netns', 'add', ns]);
    await runCommand('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
  const ccNamespace = await env.addContainer('cc');
  const cc1Namespace = build.hairpinClient === true ? await env.addContainer('cc1') : undefined;
  const taskNamespaces: string[] = [];
  for (const t of TASKS) {
    taskNamespaces.push(await env.addContainer(t.name));
  }

  const ingressEndpoints: TestEndpoint[] = [
    { id: 'sbox0ingress0', node: 0, containerNs: sandboxes[0], ip: SANDBOX_INGRESS_IPS[0] },
    { id: 'sbox1ingress0', node: 1, containerNs: sandboxes[1], ip: SANDBOX_INGRESS_IPS[1] },
    ...TASKS.map((t, i) => ({
      id: `${t.name}ingress00000`,
      node: 1,
      containerNs: taskNamespaces[i] ?? '',
      ip: t.ingressIp,
    })),
  ];
  const appEndpoints: TestEndpoint[] = [
    { id: 'ccapp0000000', node: 0, containerNs: ccNamespace, ip: CC_APP_IP },
    ...TASKS.map((t, i) => ({
      id: `${t.name}app000000000`,
      node: 1,
      containerNs: taskNamespaces[i] ?? '',
      ip: t.appIp,
      ifName: 'eth1',
    })),
  ];

  const specs = (
    serving: readonly string[] = TASKS.map((t) => t.name),
    options: MeshSpecOptions = {},
  ): [NodeDataplaneSpec, NodeDataplaneSpec] => {
    const live = TASKS.filter((t) => serving.includes(t.name));
    const ingressBackends: LbBackendSpec[] = live.map((t) => ({ addr: t.ingressIp, port: TARGET_PORT }));
    const appBackends: LbBackendSpec[] = live.map((t) => ({ addr: t.appIp, port: TARGET_PORT }));
    const sandboxLb = (ns: string): LbNamespaceSpec => ({
      namespace: ns,
      hook: 'prerouting',
      masqueradeOut: 'eth0',
      frontends: [{ addr: SANDBOX_EGRESS, protocol: 'tcp', port: MESH_PORT, backends: ingressBackends }],
    });
    const ingressPort = {
      protocol: 'tcp' as const,
      port: MESH_PORT,
      target: { addr: SANDBOX_EGRESS, port: MESH_PORT },
      mode: 'ingress' as const,
    };
    const egress = (attachments: EgressAttachmentSpec[]): EgressSpec => ({
      bridge: EGRESS_BRIDGE,
      gatewayCidr: `${EGRESS_GATEWAY}/16`,
      attachments,
    });
    const sandboxEgress = (ns: string): EgressAttachmentSpec => ({
      containerId: 'ingress-sbox',
      containerNamespace: ns,
      ifName: 'eth1',
      ipv4Cidr: `${SANDBOX_EGRESS}/16`,
      defaultRoute: true,
    });
    const overlays = (n: number): OverlaySpec[] => [
      overlayFor(nodes[n]!, nodes, INGRESS, ingressEndpoints),
      overlayFor(nodes[n]!, nodes, APP, appEndpoints),
    ];
    const spec0 = specFor(nodes[0]!, nodes, overlays(0), {
      egress: egress([
        sandboxEgress(sandboxes[0]),
        {
          containerId: 'cc0000000000',
          containerNamespace: ccNamespace,
          ifName: 'eth1',
          ipv4Cidr: `${CC_EGRESS_IP}/16`,
          defaultRoute: true,
        },
      ]),
      loadBalancing: {
        namespaces: [
          {
            namespace: ccNamespace,
            hook: 'output',
            frontends: [{ addr: APP_VIP, protocol: 'tcp', port: TARGET_PORT, backends: appBackends }],
          },
          sandboxLb(sandboxes[0]),
        ],
        publishedPorts: [ingressPort],
        ingressSandbox: { namespace: sandboxes[0], egressAddr: SANDBOX_EGRESS },
      },
    });
    const spec1 = specFor(nodes[1]!, nodes, overlays(1), {
      egress: egress([
        sandboxEgress(sandboxes[1]),
        ...TASKS.map((t, i) => ({
          containerId: `${t.name}task0000000`,
          containerNamespace: taskNamespaces[i] ?? '',
          ifName: 'eth2',
          ipv4Cidr: `${t.egressIp}/16`,
          defaultRoute: true,
        })),
        ...(cc1Namespace === undefined
          ? []
          : [
              {
                containerId: 'cc1000000000',
                containerNamespace: cc1Namespace,
                ifName: 'eth0',
                ipv4Cidr: `${CC1_EGRESS_IP}/16`,
                defaultRoute: true,
              },
            ]),
      ]),
      loadBalancing: {
        namespaces: [sandboxLb(sandboxes[1])],
        publishedPorts: [
          ingressPort,
          { protocol: 'tcp', port: HOST_PORT, target: { addr: TASKS[0].egressIp, port: TARGET_PORT }, mode: 'host' },
        ],
        ingressSandbox: {
          namespace: sandboxes[1],
          egressAddr: SANDBOX_EGRESS,
          // What the worker lists: the local tasks on ingress (lb-spec-builder.ts).
          localBackends: (options.localTasks ?? TASKS.map((t) => t.name)).map((name) => {
            const t = TASKS.find((x) => x.name === name) ?? TASKS[0];
            return { addr: t.ingressIp, egressAddr: t.egressIp };
          }),
        },
      },
    });
    return [spec0, spec1];
  };

  const reconcile = async (
    serving?: readonly string[],
    options?: MeshSpecOptions,
  ): Promise<[ReconcileReport, ReconcileReport]> => {
    const [s0, s1] = specs(serving, options);
    return Promise.all([nodes[0]!.driver.reconcile(s0), nodes[1]!.driver.reconcile(s1)]);
  };

  const [r0, r1] = await reconcile();
  const errors = [...r0.errors, ...r1.errors];
  if (errors.length > 0) {
    throw new Error(`mesh setup: ${errors.join('; ')}`);
  }
  for (const [i, t] of TASKS.entries()) {
    await startHttpServer(taskNamespaces[i] ?? '', t.name, TARGET_PORT);
  }
  return { sandboxes, taskNamespaces, ccNamespace, cc1Namespace, specs, reconcile };
}
