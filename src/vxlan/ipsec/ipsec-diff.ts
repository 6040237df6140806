/**
 * The IPsec stage of a pass (pure): spec + observed IPsec state → the `ip xfrm` batch, the nft
 * transaction, and which encrypted overlays the pass must not build.
 *
 * Fail closed: a VXLAN device of an encrypted overlay may exist only while the kernel, as read at
 * the start of the pass, enforces its VNIs (nft set and chains in place, the XFRM block policy
 * present). Otherwise the overlay is held back: not built, or torn down if it exists, and the
 * driver runs one more pass right after the stage installed the enforcement. Without an
 * `encryption` section no encrypted overlay is built at all; with an unreadable IPsec state the
 * existing ones are left as they are and no new one is built.
 */
import { canonicalIp, ipFamily } from '../ip-text.js';
import type { NodeDataplaneSpec } from '../dataplane-spec.js';
import { BLOCK_POLICY_PRIORITY } from './ipsec-names.js';
import { diffIpsecNft, enforcedVnis } from './ipsec-nft.js';
import type { ObservedIpsec } from './ipsec-reader.js';
import { desiredXfrm, diffXfrm } from './ipsec-xfrm.js';

/** What the IPsec stage of a pass does. */
export interface IpsecPlan {
  /** One `ip -force -batch -` in the daemon namespace. */
  readonly xfrmLines: readonly string[];
  /** One `nft -f -` transaction in the daemon namespace. */
  readonly nftLines: readonly string[];
  /** Encrypted overlays (network IDs) this pass must not build, and must remove if they exist. */
  readonly heldBack: readonly string[];
  /** Encrypted overlays (network IDs) to leave exactly as they are: the IPsec state is unknown. */
  readonly leftAlone: readonly string[];
  readonly errors: readonly string[];
}

/** Whether the block policy for `port` in the family of `self` is in the kernel. */
function blockPolicyPresent(observed: ObservedIpsec, self: string, port: number): boolean {
  const any = ipFamily(self) === 6 ? '::/0' : '0.0.0.0/0';
  return observed.policies.some(
    (p) =>
      p.dir === 'out' &&
      p.action === 'block' &&
      p.src === any &&
      p.dst === any &&
      p.proto === 17 &&
      p.dport === port &&
      p.priority === BLOCK_POLICY_PRIORITY,
  );
}

/**
 * Plans the IPsec stage. `existing`: namespaces that exist now (an overlay held back whose
 * namespace exists is torn down by the rest of the pass).
 */
export function planIpsec(spec: NodeDataplaneSpec, observed: ObservedIpsec | undefined): IpsecPlan {
  const encrypted = spec.overlays.filter((o) => o.encrypted === true);
  const enc = spec.encryption;
  if (enc === undefined) {
    return {
      xfrmLines: [],
      nftLines: [],
      heldBack: encrypted.map((o) => o.networkId),
      leftAlone: [],
      errors: encrypted.map((o) => `overlay ${o.networkId} is encrypted but this node cannot enforce IPsec; not built`),
    };
  }
  if (observed === undefined || observed.unknown) {
    return {
      xfrmLines: [],
      nftLines: [],
      heldBack: [],
      leftAlone: encrypted.map((o) => o.networkId),
      errors: [
        ...(observed?.errors ?? ['IPsec state not read']),
        ...(encrypted.length > 0 ? ['encrypted overlays left as they are this pass'] : []),
      ],
    };
  }
  const port = spec.dataPathPort;
  const self = canonicalIp(spec.dataPathAddr);
  const vnis = encrypted.flatMap((o) => o.subnets.map((s) => s.vni));
  const desired = desiredXfrm(enc, self, port, encrypted.length > 0);
  const errors = [...desired.errors];
  const peers = new Set(enc.peers.map((p) => canonicalIp(p.addr)));
  const unknownVteps = new Set(
    encrypted
      .flatMap((o) => o.remoteEndpoints.map((r) => canonicalIp(r.vtep)))
      .filter((v) => !peers.has(v) && v !== self),
  );
  for (const vtep of [...unknownVteps].sort()) {
    errors.push(`encrypted overlays: VTEP ${vtep} is not among the encryption peers; traffic to it is blocked`);
  }
  const enforced = blockPolicyPresent(observed, self, port) ? enforcedVnis(port, observed.nft) : new Set<number>();
  const heldBack = encrypted.filter((o) => o.subnets.some((s) => !enforced.has(s.vni))).map((o) => o.networkId);
  return {
    xfrmLines: diffXfrm(desired, observed.states, observed.policies),
    nftLines: diffIpsecNft(port, vnis, observed.nft),
    heldBack,
    leftAlone: [],
    errors,
  };
}
