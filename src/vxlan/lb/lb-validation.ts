/**
 * Checks of the LB section of a spec, run with the rest of the spec validation before anything
 * touches the kernel: a violation is a bug upstream, and the driver refuses the whole spec.
 */
import { isValidIfName, overlayNamespacePrefix } from '../dataplane-names.js';
import type { NodeDataplaneSpec } from '../dataplane-spec.js';
import { ipFamily } from '../ip-text.js';
import { portKey } from './lb-state.js';

const PROTOCOLS = new Set(['tcp', 'udp']);
const HOOKS = new Set(['output', 'prerouting']);

function isPort(n: number): boolean {
  return Number.isInteger(n) && n >= 1 && n <= 65535;
}

function isNamespaceName(name: string): boolean {
  return name.length > 0 && name.length <= 200 && /^[A-Za-z0-9_.-]+$/.test(name) && name !== '.' && name !== '..';
}

/** Every problem of `spec.loadBalancing`, as human-readable strings; empty when usable or absent. */
export function validateLoadBalancing(spec: NodeDataplaneSpec): string[] {
  const lb = spec.loadBalancing;
  const problems: string[] = [];
  if (lb === undefined) {
    return problems;
  }
  const overlayPrefix = overlayNamespacePrefix(spec.namespacePrefix);
  const seen = new Set<string>();
  for (const ns of lb.namespaces) {
    const where = `load balancing of ${ns.namespace}`;
    if (!isNamespaceName(ns.namespace) || ns.namespace.startsWith(overlayPrefix)) {
      problems.push(`${where}: bad namespace name`);
    }
    if (seen.has(ns.namespace)) {
      problems.push(`${where}: namespace listed twice`);
    }
    seen.add(ns.namespace);
    if (!HOOKS.has(ns.hook)) {
      problems.push(`${where}: hook ${JSON.stringify(ns.hook)} is not output or prerouting`);
    }
    if (ns.masqueradeOut !== undefined && !isValidIfName(ns.masqueradeOut)) {
      problems.push(`${where}: bad interface name ${JSON.stringify(ns.masqueradeOut)}`);
    }
    for (const f of ns.frontends) {
      const fw = `${where} frontend ${f.addr}:${f.port}/${f.protocol}`;
      if (ipFamily(f.addr) !== 4 || !PROTOCOLS.has(f.protocol) || !isPort(f.port)) {
        problems.push(`${fw}: not an IPv4 address, tcp|udp and a port`);
      }
      for (const b of f.backends) {
        if (ipFamily(b.addr) !== 4 || !isPort(b.port)) {
          problems.push(`${fw}: backend ${b.addr}:${b.port} is not an IPv4 address and a port`);
        }
      }
    }
  }
  const ports = new Set<string>();
  for (const p of lb.publishedPorts) {
    const where = `published port ${p.port}/${p.protocol}`;
    if (!PROTOCOLS.has(p.protocol) || !isPort(p.port)) {
      problems.push(`${where}: not tcp|udp and a port`);
    }
    if (ipFamily(p.target.addr) !== 4 || !isPort(p.target.port)) {
      problems.push(`${where}: target ${p.target.addr}:${p.target.port} is not an IPv4 address and a port`);
    }
    if (p.protocol === 'udp' && p.port === spec.dataPathPort) {
      problems.push(`${where}: is the cluster's VXLAN port`);
    }
    const key = portKey(p.protocol, p.port);
    if (ports.has(key)) {
      problems.push(`${where}: published twice`);
    }
    ports.add(key);
  }
  const sandbox = lb.ingressSandbox;
  if (sandbox !== undefined) {
    if (!isNamespaceName(sandbox.namespace) || sandbox.namespace.startsWith(overlayPrefix)) {
      problems.push(`ingress sandbox: bad namespace name ${JSON.stringify(sandbox.namespace)}`);
    }
    if (ipFamily(sandbox.egressAddr) !== 4) {
      problems.push(`ingress sandbox: egress address ${JSON.stringify(sandbox.egressAddr)} is not IPv4`);
    }
    for (const b of sandbox.localBackends ?? []) {
      if (ipFamily(b.addr) !== 4 || ipFamily(b.egressAddr) !== 4) {
        problems.push(`ingress sandbox: local backend ${JSON.stringify(b)} is not two IPv4 addresses`);
      }
    }
  }
  return problems;
}
