/**
 * The etcd client under member failures (RELIABILITY.md A4 tests 2 and 5), on a 3-member
 * cluster on loopback: with one member dead no call waits for it (calls go to connected members
 * first, and a call that could not connect anywhere moves on before anything was sent); with the
 * quorum lost, calls are refused at once with an error that says so; with the quorum back, the
 * same client works again without being reopened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VxmeshError } from '../../src/common/errors.js';
import { EtcdKvStore } from '../../src/kvstore/index.js';
import { startEtcdCluster } from '../support/etcd-cluster.js';
import type { EtcdCluster } from '../support/etcd-cluster.js';
import { kvPrefix } from '../support/kv-prefix.js';

describe('etcd client with members down (3-member cluster)', () => {
  let etcd: EtcdCluster | undefined;
  let store: EtcdKvStore | undefined;

  beforeAll(async () => {
    etcd = await startEtcdCluster();
    store = new EtcdKvStore({ endpoints: [...etcd.endpoints], namespace: kvPrefix('members') });
    await store.put('warm', 'up');
  }, 60_000);

  afterAll(async () => {
    await store?.close();
    await etcd?.stop();
  });

  const s = (): EtcdKvStore => store as EtcdKvStore;
  const e = (): EtcdCluster => etcd as EtcdCluster;

  it('with one member dead, every write succeeds and none waits for the dead member', async () => {
    const victim = e().members[0];
    await victim?.crash();
    // When the victim led, the survivors elect a new leader first (one election timeout); a write
    // in that window times out inside etcd. That window is not what this test measures.
    for (let attempt = 0; attempt < 40; attempt++) {
      const ok = await s()
        .put('settled', String(attempt))
        .then(
          () => true,
          () => false,
        );
      if (ok) {
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    // A fresh client too, which has never connected anywhere: its first calls must not wait the dial timeout.
    const fresh = new EtcdKvStore({ endpoints: [...e().endpoints], namespace: kvPrefix('fresh') });
    try {
      const slowest = { ms: 0 };
      for (let i = 0; i < 30; i++) {
        for (const client of [s(), fresh]) {
          const t0 = Date.now();
          await client.put(`k${i}`, String(i));
          slowest.ms = Math.max(slowest.ms, Date.now() - t0);
        }
      }
      console.log(`etcd-member-loss: 60 writes with one of three members dead; slowest ${slowest.ms} ms`);
      // Calls go to connected members; a client connected nowhere dials all members at once.
      expect(slowest.ms).toBeLessThan(1500);
    } finally {
      await fresh.close();
      await victim?.restart();
      await e().waitHealthy();
    }
  });

  it('without a quorum, calls are refused quickly with an error that says so; with it back, they work again', async () => {
    const [a, b] = [e().members[1], e().members[2]];
    await Promise.all([a?.crash(), b?.crash()]);
    // Let the survivor notice it lost its leader (one election timeout: 500 ms here).
    await new Promise((r) => setTimeout(r, 1500));
    const t0 = Date.now();
    const err = await s()
      .put('during', 'outage')
      .then(
        () => undefined,
        (x: unknown) => x,
      );
    const ms = Date.now() - t0;
    console.log(`etcd-member-loss: refused after ${ms} ms: ${err instanceof Error ? err.message : String(err)}`);
    expect(err).toBeInstanceOf(VxmeshError);
    expect((err as VxmeshError).code).toBe('UNAVAILABLE');
    expect((err as VxmeshError).message).toMatch(
      /^(etcd has no quorum|cannot connect to any of the 3 etcd endpoints).*until a majority of etcd members is reachable again$/,
    );
    expect(ms).toBeLessThan(1500);
    await Promise.all([a?.restart(), b?.restart()]);
    await e().waitHealthy();
    await s().put('after', 'outage');
    expect(new TextDecoder().decode((await s().get('after')).kv?.value)).toBe('outage');
  });
});
