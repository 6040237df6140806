import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { AddressAllocator } from '../../src/manager/ipam/address-allocator.js';
import { cidrOverlaps, parseCidr } from '../../src/manager/ipam/cidr.js';
import { loadVnis } from '../../src/manager/ipam/vni-space.js';
import { BitmapDraft } from '../../src/manager/ipam/chunked-bitmap.js';
import { listNetworks } from '../../src/manager/network/network-records.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { createRequest, openTestStore, seedCluster } from './network-fixtures.js';
import type { TestStore } from './network-fixtures.js';

const WORKER = fileURLToPath(new URL('./fixtures/network-worker.ts', import.meta.url));
const NETWORKS_PER_WORKER = 100;
const ADDRESSES_PER_WORKER = 2500;

interface Ack {
  readonly t: 'net' | 'addr' | 'done';
  readonly id?: string;
  readonly name?: string;
  readonly subnets?: [string, number][];
  readonly net?: string;
  readonly ip?: string;
}

/** Runs one worker process to completion; resolves its acknowledgements (and fails on a non-zero exit). */
function runWorker(args: string[]): Promise<Ack[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WORKER, ...args], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const acks = stdout
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => JSON.parse(l) as Ack);
      if (code !== 0) {
        reject(new Error(`worker exited ${code}: ${stderr.slice(-2000)}`));
      } else {
        resolve(acks);
      }
    });
  });
}

describe('two manager processes sharing one etcd', () => {
  let t: TestStore;

  beforeAll(async () => {
    t = await openTestStore('etcd');
  });

  afterAll(async () => {
    await t.dispose();
  });

  it('create 200 networks and allocate 5,000 addresses concurrently: nothing held twice, every ack present', async () => {
    const { store } = t;
    await seedCluster(store);
    const networks = new NetworkService(store, systemClock);
    // Shared networks both processes allocate in, so their address txns contend on the same keys.
    const shared: string[] = [];
    for (let i = 0; i < 4; i++) {
      const { network } = await networks.create(createRequest(`shared${i}`, { subnets: [`10.200.${i * 8}.0/21`] }));
      shared.push(`${network.id}=10.200.${i * 8}.0/21`);
    }
    const args = (worker: number): string[] => [
      inject('etcdEndpoint'),
      t.namespace ?? '',
      String(worker),
      String(NETWORKS_PER_WORKER),
      String(ADDRESSES_PER_WORKER),
      shared.join(','),
    ];
    const [a, b] = await Promise.all([runWorker(args(0)), runWorker(args(1))]);
    const acks = [...a, ...b];
    expect(acks.filter((x) => x.t === 'done')).toHaveLength(2);

    // Networks: every acknowledged create is stored as acknowledged; no subnet overlaps, no VNI repeats.
    const stored = await listNetworks(store);
    expect(stored).toHaveLength(2 * NETWORKS_PER_WORKER + 4 + 1);
    const byId = new Map(stored.map((s) => [s.network.id, s.network]));
    const netAcks = acks.filter((x) => x.t === 'net');
    expect(netAcks).toHaveLength(2 * NETWORKS_PER_WORKER);
    for (const ack of netAcks) {
      const network = byId.get(ack.id ?? '');
      expect(network?.name).toBe(ack.name);
      expect(network?.subnets.map((s) => [s.subnet, s.vni])).toEqual(ack.subnets);
    }
    const subnets = stored.flatMap((s) => s.network.subnets.map((x) => parseCidr(x.subnet, 'subnet')));
    for (const [i, x] of subnets.entries()) {
      for (const y of subnets.slice(i + 1)) {
        expect(cidrOverlaps(x, y)).toBe(false);
      }
    }
    const vnis = stored.flatMap((s) => s.network.subnets.map((x) => x.vni));
    expect(new Set(vnis).size).toBe(vnis.length);
    const vniBits = new BitmapDraft(await loadVnis(store));
    expect(vnis.every((v) => vniBits.isSet(BigInt(v)))).toBe(true);

    // Addresses: all distinct, all set in the store; nothing else is set.
    const addrAcks = acks.filter((x) => x.t === 'addr');
    expect(addrAcks).toHaveLength(2 * ADDRESSES_PER_WORKER);
    const keys = addrAcks.map((x) => `${x.net} ${x.ip}`);
    expect(new Set(keys).size).toBe(keys.length);
    const usage = await networks.list();
    let inUse = 0n;
    for (const view of usage.filter((v) => v.network?.name.startsWith('shared'))) {
      inUse += view.usage[0]?.inUse ?? 0n;
    }
    // Each shared subnet also holds its gateway.
    expect(inUse).toBe(BigInt(addrAcks.length + 4));
    // Every acknowledged address is really held: a static request for it is refused as in use.
    const checker = new AddressAllocator(store);
    const sample = addrAcks.filter((_, i) => i % 50 === 0);
    for (const ack of sample) {
      const subnet = shared.find((s) => s.startsWith(`${ack.net}=`))?.split('=')[1] ?? '';
      await expect(checker.allocate(ack.net ?? '', subnet, { preferred: ack.ip ?? '' })).rejects.toMatchObject({
        code: 'ALREADY_EXISTS',
      });
    }
  }, 120_000);
});
