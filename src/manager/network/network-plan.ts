import { InvalidArgumentError, VxmeshError } from '../../common/errors.js';
import { Network } from '../../gen/vxmesh/v1/network.js';
import type { SubnetAllocation } from '../../gen/vxmesh/v1/network.js';
import { bitmapWrite } from '../ipam/bitmap-store.js';
import { BitmapDraft, EMPTY_SNAPSHOT } from '../ipam/chunked-bitmap.js';
import type { BitmapSnapshot } from '../ipam/chunked-bitmap.js';
import { formatAddress, formatCidr } from '../ipam/cidr.js';
import type { Cidr } from '../ipam/cidr.js';
import { firstFreeSubnet } from '../ipam/address-pools.js';
import type { AddressPool } from '../ipam/address-pools.js';
import { defaultGateway } from '../ipam/ipam-config.js';
import type { SubnetRequest } from '../ipam/ipam-config.js';
import { claimWrite, findOverlap } from '../ipam/subnet-claims.js';
import type { ClaimsSnapshot } from '../ipam/subnet-claims.js';
import { dynamicBounds } from '../ipam/subnet-layout.js';
import { TxnPlan } from '../ipam/txn-plan.js';
import { planVnis, VXLANID_LIST_OPTION } from '../ipam/vni-space.js';
import { encodeMessage } from '../store/message-codec.js';
import { storeKeys } from '../store/store-keys.js';
import { DEFAULT_IPAM_DRIVER, OVERLAY_DRIVER } from './network-spec.js';
import type { NetworkSpec } from './network-spec.js';

/** What a create reads from the store before planning. */
export interface CreateSnapshot {
  readonly claims: ClaimsSnapshot;
  readonly vnis: BitmapSnapshot;
  readonly pools: readonly AddressPool[];
}

/** Empty cluster state (used at `swarm init`). */
export function emptyCreateSnapshot(pools: readonly AddressPool[]): CreateSnapshot {
  return { claims: { claims: [], guardModRevision: 0n }, vnis: EMPTY_SNAPSHOT, pools };
}

function describePools(pools: readonly AddressPool[], family: 4 | 6): string {
  const of = pools.filter((p) => p.cidr.family === family);
  return of.map((p) => `${formatCidr(p.cidr)} split into /${p.subnetPrefix}`).join(', ');
}

/**
 * Turns a validated spec and the store state it was read against into the network record and
 * the one transaction that creates it: the record, its name index (and the ingress key), subnet
 * claims with the claims guard, VNIs, and per subnet the address bitmap cursor and the chunks
 * holding the gateway and aux addresses. Every key it depends on is compared, so the txn fails
 * (and the caller re-reads and replans) when anything changed meanwhile. Pure.
 * @throws InvalidArgumentError for a `--subnet` overlapping another network's (naming it), a
 *   requested VNI in use, `--ipv6` without an IPv6 subnet or pool, or a txn too large;
 *   VxmeshError EXHAUSTED when the default pools (or VNIs) are used up.
 */
export function planNetworkCreate(
  spec: NetworkSpec,
  snap: CreateSnapshot,
  ident: { readonly id: string; readonly createdAt: bigint },
): { network: Network; plan: TxnPlan } {
  const { ipam } = spec;
  for (const req of ipam.explicit) {
    const clash = findOverlap(snap.claims, req.cidr);
    if (clash) {
      throw new InvalidArgumentError(
        '--subnet',
        `${formatCidr(req.cidr)} overlaps ${formatCidr(clash.cidr)} of network "${clash.networkName}" (${clash.networkId})`,
      );
    }
  }
  const taken: Cidr[] = [...snap.claims.claims.map((c) => c.cidr), ...ipam.explicit.map((s) => s.cidr)];
  const auto = (family: 4 | 6): SubnetRequest => {
    if (!snap.pools.some((p) => p.cidr.family === family)) {
      throw new InvalidArgumentError(
        '--ipv6',
        'the cluster has no IPv6 default address pool; give an IPv6 --subnet (there is no global IPv6 default)',
      );
    }
    const cidr = firstFreeSubnet(snap.pools, family, taken);
    if (!cidr) {
      throw new VxmeshError(
        'EXHAUSTED',
        `no free subnet left in the default address pools (${describePools(snap.pools, family)})`,
      );
    }
    taken.push(cidr);
    return { cidr, gateway: undefined, ipRange: undefined, aux: new Map() };
  };
  const v4 = ipam.autoV4 ? [{ req: auto(4), automatic: true }] : [];
  const v6 = ipam.autoV6 ? [{ req: auto(6), automatic: true }] : [];
  const ordered = [
    ...v4,
    ...ipam.explicit.filter((s) => s.cidr.family === 4).map((req) => ({ req, automatic: false })),
    ...ipam.explicit.filter((s) => s.cidr.family === 6).map((req) => ({ req, automatic: false })),
    ...v6,
  ];
  const ipv4Count = ordered.filter((s) => s.req.cidr.family === 4).length;
  const vniPlan = planVnis(snap.vnis, ipv4Count, spec.vnis);

  const plan = new TxnPlan();
  const subnets: SubnetAllocation[] = [];
  let vniIndex = 0;
  for (const { req, automatic } of ordered) {
    const subnet = formatCidr(req.cidr);
    const gateway = defaultGateway(req);
    const aux: Record<string, string> = {};
    const draft = new BitmapDraft(EMPTY_SNAPSHOT);
    draft.set(gateway - req.cidr.base);
    for (const [name, addr] of req.aux) {
      aux[name] = formatAddress(addr);
      draft.set(addr.value - req.cidr.base);
    }
    // The cursor sits just before the dynamic range, so the first dynamic address is its first free one.
    draft.setCursor(dynamicBounds(req.cidr, req.ipRange).lo - 1n);
    const loc = { prefix: storeKeys.subnetAddressesPrefix(ident.id, subnet) };
    plan.merge(bitmapWrite(loc, draft, { guardCursor: true }));
    const vni = req.cidr.family === 4 ? (vniPlan.vnis[vniIndex++] ?? 0) : 0;
    subnets.push({
      subnet,
      ipRange: req.ipRange ? formatCidr(req.ipRange) : '',
      gateway: formatAddress({ family: req.cidr.family, value: gateway }),
      auxAddresses: aux,
      vni,
      automatic,
    });
  }

  const network: Network = {
    id: ident.id,
    name: spec.name,
    driver: OVERLAY_DRIVER,
    createdAt: ident.createdAt,
    enableIpv6: spec.enableIpv6,
    internal: spec.internal,
    attachable: spec.attachable,
    ingress: spec.ingress,
    labels: { ...spec.labels },
    options: { ...spec.options.shown, [VXLANID_LIST_OPTION]: vniPlan.vnis.join(',') },
    ipamDriver: DEFAULT_IPAM_DRIVER,
    ipamOptions: { ...spec.ipamOptions },
    subnets,
    mtu: spec.options.mtu,
    encrypted: spec.options.encrypted,
  };
  const recordKey = storeKeys.network(network.id);
  const nameKey = storeKeys.networkName(network.name);
  plan
    .compare(
      { key: recordKey, target: 'version', op: '==', value: 0n },
      { key: nameKey, target: 'version', op: '==', value: 0n },
    )
    .op(
      { type: 'put', key: recordKey, value: encodeMessage(Network, network) },
      { type: 'put', key: nameKey, value: network.id },
    );
  if (network.ingress) {
    plan
      .compare({ key: storeKeys.ingressNetwork, target: 'version', op: '==', value: 0n })
      .op({ type: 'put', key: storeKeys.ingressNetwork, value: network.id });
  }
  plan.merge(
    claimWrite(
      snap.claims,
      network,
      ordered.map((s) => s.req.cidr),
    ),
  );
  plan.merge({ compares: vniPlan.compares, ops: vniPlan.ops });
  plan.checkSize('--aux-address', `network ${network.name} with ${ordered.length} subnets and its aux addresses`);
  return { network, plan };
}
