/**
 * Checks of a {@link NodeDataplaneSpec} before anything touches the kernel. The spec is computed
 * by the worker, so a violation is a bug upstream: the driver refuses the whole spec rather than
 * guess (a skipped overlay would look stale and be torn down).
 */
import {
  bridgeName,
  egressVethName,
  endpointVethName,
  isValidIfName,
  overlayNamespacePrefix,
  vxlanName,
} from './dataplane-names.js';
import type { NodeDataplaneSpec, OverlaySpec } from './dataplane-spec.js';
import { ipFamily, isValidMac, parseAddressWithPrefix } from './ip-text.js';

const MAX_VNI = 0xffffff;
const MIN_MTU = 68;
const MAX_MTU = 65535;

function isNamespaceName(name: string): boolean {
  return name.length > 0 && name.length <= 200 && /^[A-Za-z0-9_.-]+$/.test(name) && name !== '.' && name !== '..';
}

function checkMtu(mtu: number, where: string, problems: string[]): void {
  if (!Number.isInteger(mtu) || mtu < MIN_MTU || mtu > MAX_MTU) {
    problems.push(`${where}: mtu ${mtu} is not an integer from ${MIN_MTU} to ${MAX_MTU}`);
  }
}

function checkCidr(text: string | undefined, family: 4 | 6, where: string, problems: string[]): void {
  if (text === undefined) {
    return;
  }
  const parsed = parseAddressWithPrefix(text);
  if (parsed === undefined || parsed.family !== family) {
    problems.push(`${where}: ${JSON.stringify(text)} is not an IPv${family} address with prefix length`);
  }
}

function checkIp(text: string | undefined, where: string, problems: string[], family?: 4 | 6): void {
  if (text === undefined) {
    return;
  }
  const f = ipFamily(text);
  if (f === undefined || (family !== undefined && f !== family)) {
    problems.push(`${where}: ${JSON.stringify(text)} is not an IP${family === undefined ? '' : `v${family}`} address`);
  }
}

function checkOverlay(spec: NodeDataplaneSpec, o: OverlaySpec, problems: string[]): void {
  const where = `overlay ${o.networkId}`;
  const prefix = overlayNamespacePrefix(spec.namespacePrefix);
  if (!isNamespaceName(o.namespace) || !o.namespace.startsWith(prefix) || o.namespace === prefix) {
    problems.push(`${where}: namespace ${JSON.stringify(o.namespace)} must be a valid name starting with ${prefix}`);
  }
  checkMtu(o.mtu, where, problems);
  if (o.subnets.length === 0) {
    problems.push(`${where}: no subnets`);
  }
  const indexes = new Set<number>();
  for (const s of o.subnets) {
    const sw = `${where} subnet ${s.index}`;
    if (!Number.isInteger(s.index) || s.index < 0 || !isValidIfName(vxlanName(s.index)) || !isValidIfName(bridgeName(s.index))) {
      problems.push(`${sw}: bad index`);
    }
    if (indexes.has(s.index)) {
      problems.push(`${sw}: duplicate index`);
    }
    indexes.add(s.index);
    if (!Number.isInteger(s.vni) || s.vni < 1 || s.vni > MAX_VNI) {
      problems.push(`${sw}: vni ${s.vni} is not from 1 to ${MAX_VNI}`);
    }
    checkCidr(s.gatewayCidr, 4, sw, problems);
    checkCidr(s.ipv6GatewayCidr, 6, sw, problems);
  }
  const vethNames = new Set<string>();
  for (const e of o.localEndpoints) {
    const ew = `${where} endpoint ${e.endpointId}`;
    const ve = endpointVethName(e.endpointId);
    if (e.endpointId.length === 0 || !isValidIfName(ve)) {
      problems.push(`${ew}: endpoint id does not make a valid interface name`);
    }
    if (vethNames.has(ve)) {
      problems.push(`${ew}: another endpoint shares the first 12 characters of its id`);
    }
    vethNames.add(ve);
    if (!indexes.has(e.subnetIndex)) {
      problems.push(`${ew}: no subnet ${e.subnetIndex}`);
    }
    if (!isNamespaceName(e.containerNamespace) || e.containerNamespace.startsWith(prefix)) {
      problems.push(`${ew}: bad container namespace ${JSON.stringify(e.containerNamespace)}`);
    }
    if (!isValidIfName(e.ifName)) {
      problems.push(`${ew}: bad interface name ${JSON.stringify(e.ifName)}`);
    }
    if (!isValidMac(e.mac)) {
      problems.push(`${ew}: bad MAC ${JSON.stringify(e.mac)}`);
    }
    checkCidr(e.ipv4Cidr, 4, ew, problems);
    checkCidr(e.ipv6Cidr, 6, ew, problems);
    checkIp(e.gateway, `${ew} gateway`, problems, 4);
    checkIp(e.ipv6Gateway, `${ew} ipv6Gateway`, problems, 6);
    for (const subnet of e.otherSubnets) {
      const parsed = parseAddressWithPrefix(subnet);
      if (parsed === undefined) {
        problems.push(`${ew}: bad other subnet ${JSON.stringify(subnet)}`);
      } else if (parsed.family === 6 && e.ipv6Gateway === undefined) {
        problems.push(`${ew}: IPv6 subnet ${subnet} needs ipv6Gateway`);
      }
    }
  }
  for (const r of o.remoteEndpoints) {
    const rw = `${where} remote endpoint ${r.endpointId}`;
    if (!indexes.has(r.subnetIndex)) {
      problems.push(`${rw}: no subnet ${r.subnetIndex}`);
    }
    if (!isValidMac(r.mac)) {
      problems.push(`${rw}: bad MAC ${JSON.stringify(r.mac)}`);
    }
    checkIp(r.ipv4, rw, problems, 4);
    checkIp(r.ipv6, rw, problems, 6);
    checkIp(r.vtep, `${rw} vtep`, problems);
  }
}

/** Every problem found, as human-readable strings; empty when the spec is usable. */
export function validateDataplaneSpec(spec: NodeDataplaneSpec): string[] {
  const problems: string[] = [];
  if (!isNamespaceName(spec.namespacePrefix)) {
    problems.push(`namespacePrefix ${JSON.stringify(spec.namespacePrefix)} is not a valid namespace name prefix`);
  }
  checkIp(spec.dataPathAddr, 'dataPathAddr', problems);
  if (!Number.isInteger(spec.dataPathPort) || spec.dataPathPort < 1 || spec.dataPathPort > 65535) {
    problems.push(`dataPathPort ${spec.dataPathPort} is not a port number`);
  }
  for (const vtep of spec.memberVteps) {
    checkIp(vtep, 'memberVteps', problems);
  }
  const namespaces = new Set<string>();
  const vnis = new Map<number, string>();
  for (const o of spec.overlays) {
    if (namespaces.has(o.namespace)) {
      problems.push(`overlay ${o.networkId}: namespace ${o.namespace} used twice`);
    }
    namespaces.add(o.namespace);
    for (const s of o.subnets) {
      const other = vnis.get(s.vni);
      if (other !== undefined) {
        problems.push(`overlay ${o.networkId}: vni ${s.vni} also used by ${other}`);
      }
      vnis.set(s.vni, o.networkId);
    }
    checkOverlay(spec, o, problems);
  }

  // One owner per container-side interface name.
  const owned = new Set<string>();
  const claim = (ns: string, ifName: string, who: string): void => {
    const key = `${ns}\0${ifName}`;
    if (owned.has(key)) {
      problems.push(`${who}: ${ifName} in ${ns} is already used by another endpoint`);
    }
    owned.add(key);
  };
  for (const o of spec.overlays) {
    for (const e of o.localEndpoints) {
      claim(e.containerNamespace, e.ifName, `endpoint ${e.endpointId}`);
    }
  }

  const egress = spec.egress;
  if (egress !== undefined) {
    if (!isValidIfName(egress.bridge)) {
      problems.push(`egress: bad bridge name ${JSON.stringify(egress.bridge)}`);
    }
    checkCidr(egress.gatewayCidr, 4, 'egress', problems);
    if (egress.mtu !== undefined) {
      checkMtu(egress.mtu, 'egress', problems);
    }
    const names = new Set<string>();
    for (const a of egress.attachments) {
      const aw = `egress of ${a.containerId}`;
      const gw = egressVethName(a.containerId);
      if (a.containerId.length === 0 || !isValidIfName(gw) || names.has(gw)) {
        problems.push(`${aw}: container id is empty, invalid or shares its first 12 characters with another`);
      }
      names.add(gw);
      if (!isNamespaceName(a.containerNamespace)) {
        problems.push(`${aw}: bad container namespace ${JSON.stringify(a.containerNamespace)}`);
      }
      if (!isValidIfName(a.ifName)) {
        problems.push(`${aw}: bad interface name ${JSON.stringify(a.ifName)}`);
      }
      checkCidr(a.ipv4Cidr, 4, aw, problems);
      claim(a.containerNamespace, a.ifName, aw);
    }
  }
  return problems;
}
