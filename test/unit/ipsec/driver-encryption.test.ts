import { describe, expect, it } from 'vitest';
import { FakeCommandRunner } from '../../../src/vxlan/command-runner-fake.js';
import { DataplaneDriver } from '../../../src/vxlan/dataplane-driver.js';
import type { NodeDataplaneSpec, ReconcileReport } from '../../../src/vxlan/dataplane-spec.js';
import { NET_A, NET_B, baseSpec, noEgress, overlay } from '../vxlan/fixtures.js';
import { IpsecFakeRunner } from './fake-ipsec.js';

const OV_A = `vxd-o-${NET_A.slice(0, 12)}`;
const OV_B = `vxd-o-${NET_B.slice(0, 12)}`;
const KEYS = [20, 21, 22].map((tag) => ({ tag, key: Buffer.alloc(32, tag).toString('hex') }));

const total = (r: ReconcileReport): number => [...r.commands.values()].reduce((a, b) => a + b, 0);

function setup(): { fake: FakeCommandRunner; runner: IpsecFakeRunner; driver: DataplaneDriver } {
  const fake = new FakeCommandRunner();
  fake.kernel.addNamespace('c1');
  const runner = new IpsecFakeRunner(fake);
  return { fake, runner, driver: new DataplaneDriver({ runner }) };
}

/** Overlay A encrypted, overlay B plain, both with container c1 and a peer at .11. */
function encryptedSpec(withSection = true): NodeDataplaneSpec {
  return noEgress(baseSpec(), {
    overlays: [{ ...overlay(NET_A, 4097, 1), encrypted: true, mtu: 1416 }, overlay(NET_B, 4098, 2, 'c1', 'eth1')],
    ...(withSection
      ? {
          encryption: {
            nodeId: 'me',
            bootId: 'b1',
            keys: KEYS,
            peers: [{ nodeId: 'peer', bootId: 'b2', addr: '198.51.100.11' }],
          },
        }
      : {}),
  });
}

describe('DataplaneDriver with encrypted overlays (fake kernel)', () => {
  it('installs enforcement, then builds the overlay in a follow-up pass of the same call; then idempotent', async () => {
    const { fake, runner, driver } = setup();
    const report = await driver.reconcile(encryptedSpec());
    expect(report.errors).toEqual([]);
    expect(report.heldBack).toBeUndefined();
    expect(fake.kernel.get(OV_A).link('vxlan0').vxlan?.vni).toBe(4097);
    expect(fake.kernel.get(OV_B).link('vxlan0').vxlan?.vni).toBe(4098);
    // The enforcement was applied in an earlier batch than the VXLAN device of VNI 4097.
    const batches = fake.history.filter((c) => c.input?.includes('type vxlan id 4097') === true);
    expect(batches).toHaveLength(1);
    expect(runner.ipsec.applied.length).toBeGreaterThanOrEqual(2);
    expect(runner.ipsec.states.size).toBe(4);
    const again = await driver.reconcile(encryptedSpec());
    expect(again.errors).toEqual([]);
    expect(total(again)).toBe(0);
  });

  it('without an encryption section, an encrypted overlay is never built (and an existing one is torn down)', async () => {
    const { fake, runner, driver } = setup();
    const refused = await driver.reconcile(encryptedSpec(false));
    expect(refused.heldBack).toEqual([NET_A]);
    expect(refused.errors.join()).toMatch(/cannot enforce IPsec/);
    expect(fake.kernel.find(OV_A)).toBeUndefined();
    expect(fake.kernel.get(OV_B).link('vxlan0').vxlan?.vni).toBe(4098);
    expect(runner.ipsec.states.size).toBe(0);
    await driver.reconcile(encryptedSpec());
    expect(fake.kernel.find(OV_A)).toBeDefined();
    await driver.reconcile(encryptedSpec(false));
    expect(fake.kernel.find(OV_A)).toBeUndefined();
  });

  it('an enforcement table deleted behind its back: the overlay goes, the enforcement comes back, the overlay returns', async () => {
    const { fake, runner, driver } = setup();
    await driver.reconcile(encryptedSpec());
    runner.ipsec.table = undefined;
    const report = await driver.reconcile(encryptedSpec());
    expect(report.errors).toEqual([]);
    expect(report.removedNamespaces).toContain(OV_A);
    expect(runner.ipsec.table).toBeDefined();
    expect(fake.kernel.get(OV_A).link('vxlan0').vxlan?.vni).toBe(4097);
  });

  it('a failing IPsec stage stops the follow-up pass: the overlay stays unbuilt and the error is reported', async () => {
    const { fake, runner, driver } = setup();
    runner.ipsec.nft = (): string => 'Error: Could not process rule: No such file or directory';
    const report = await driver.reconcile(encryptedSpec());
    expect(report.heldBack).toEqual([NET_A]);
    expect(report.errors.some((e) => e.startsWith('ipsec: '))).toBe(true);
    expect(fake.kernel.find(OV_A)).toBeUndefined();
  });
});
