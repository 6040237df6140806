import { describe, expect, it } from 'vitest';
import { Endpoint } from '../../../../src/gen/vxmesh/v1/endpoint.js';
import { Service } from '../../../../src/gen/vxmesh/v1/service.js';
import { allocationFence, fenceHolds, removalFence } from '../../../../src/manager/ipam/address-fence.js';
import { addressOwners } from '../../../../src/manager/ipam/address-owners.js';
import { BitmapDraft, EMPTY_SNAPSHOT } from '../../../../src/manager/ipam/chunked-bitmap.js';
import { orphanCandidates } from '../../../../src/manager/ipam/orphan-candidates.js';
import { subnetLayout } from '../../../../src/manager/ipam/subnet-layout.js';

const layout = subnetLayout({
  subnet: '10.0.0.0/23',
  ipRange: '',
  gateway: '10.0.0.1',
  auxAddresses: { printer: '10.0.0.5' },
  vni: 4096,
  automatic: false,
});

/** A bitmap with these offsets set, written at revision `rev`. */
function bitmap(offsets: readonly bigint[], rev = 7n): ReturnType<BitmapDraft['committed']> {
  const draft = new BitmapDraft(EMPTY_SNAPSHOT);
  for (const o of offsets) {
    draft.set(o);
  }
  return draft.committed(rev);
}

describe('orphanCandidates', () => {
  it('lists allocated addresses that are not the gateway, an aux address or owned, in order', () => {
    // Gateway (1) and aux (5) set at create; 2, 3, 300 allocated; 3 owned.
    const snapshot = bitmap([1n, 2n, 3n, 5n, 300n]);
    const found = orphanCandidates(layout, snapshot, new Set(['10.0.0.3']), 100);
    expect(found.map((c) => c.address)).toEqual(['10.0.0.2', '10.0.1.44']);
    expect(found.map((c) => [c.offset, c.chunk, c.chunkModRevision])).toEqual([
      [2n, 0n, 7n],
      [300n, 1n, 7n],
    ]);
  });

  it('never lists the network or broadcast offsets, and stops at the limit', () => {
    const snapshot = bitmap([0n, 2n, 3n, 4n, 511n]);
    expect(orphanCandidates(layout, snapshot, new Set(), 100).map((c) => c.offset)).toEqual([2n, 3n, 4n]);
    expect(orphanCandidates(layout, snapshot, new Set(), 2).map((c) => c.offset)).toEqual([2n, 3n]);
  });

  it('finds nothing in a bitmap holding only the gateway and aux addresses', () => {
    expect(orphanCandidates(layout, bitmap([1n, 5n]), new Set(), 100)).toEqual([]);
  });
});

describe('addressOwners', () => {
  it('collects endpoint IPv4/IPv6 addresses and VIPs per network, canonically', () => {
    const owners = addressOwners(
      [
        Endpoint.fromPartial({ networkId: 'n1', ipv4Address: '10.0.0.2/23', ipv6Address: '2001:db8:0:0::10/64' }),
        Endpoint.fromPartial({ networkId: 'n2', ipv4Address: 'not-an-ip/24' }),
      ],
      [Service.fromPartial({ virtualIps: [{ networkId: 'n1', addr: '10.0.1.44/23' }] })],
    );
    expect([...(owners.held.get('n1') ?? [])].sort()).toEqual(['10.0.0.2', '10.0.1.44', '2001:db8::10']);
    // What an unreadable owner holds is unknown: its network is never swept.
    expect([...owners.unreadable]).toEqual(['n2']);
  });
});

describe('address fences', () => {
  it('an allocation fence holds only while the epoch is unchanged (absent = 0)', () => {
    const fence = allocationFence('k', 0n);
    expect(fenceHolds(fence, 0n)).toBe(true);
    expect(fenceHolds(fence, 12n)).toBe(false);
  });

  it('a removal fence holds while the epoch last moved at or before the removal', () => {
    const fence = removalFence('k', 40n);
    expect(fenceHolds(fence, 0n)).toBe(true);
    expect(fenceHolds(fence, 39n)).toBe(true);
    expect(fenceHolds(fence, 41n)).toBe(false);
  });
});
