import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnavailableError, VxmeshError } from '../../../src/common/errors.js';
import type { Assignment } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { Endpoint, EndpointKind } from '../../../src/gen/vxmesh/v1/endpoint.js';
import {
  DETACH_RETRY_MAX_MS,
  PendingDetaches,
  detachRetryDelayMs,
  unownedEndpoints,
} from '../../../src/worker/detach/index.js';
import type { EndpointRelease } from '../../../src/worker/detach/index.js';
import { ManualClock } from '../../support/manual-clock.js';

/** The managers' DetachNetwork as the node sees it: unreachable, refusing, or removing (a missing endpoint is fine). */
class FakeManagers {
  readonly endpoints = new Set<string>();
  readonly calls: { readonly endpointId: string; readonly at: number }[] = [];
  mode: 'up' | 'down' | 'refuse' = 'down';

  constructor(readonly clock: ManualClock) {}

  detach(endpointId: string): Promise<void> {
    this.calls.push({ endpointId, at: this.clock.now() });
    if (this.mode === 'down') {
      return Promise.reject(new UnavailableError('store unavailable: no quorum'));
    }
    if (this.mode === 'refuse') {
      return Promise.reject(new VxmeshError('PERMISSION_DENIED', `endpoint ${endpointId} belongs to another node`));
    }
    this.endpoints.delete(endpointId);
    return Promise.resolve();
  }
}

const release = (endpointId: string, ownerId = 'c1'): EndpointRelease => ({
  endpointId,
  networkId: 'n1',
  networkName: 'app',
  ownerId,
  ownerName: 'web',
  ipv4Address: '10.0.1.7/24',
  origin: 'container',
});

const endpoint = (id: string, extra: Partial<Endpoint> = {}): Assignment => ({
  item: {
    $case: 'endpoint',
    value: Endpoint.fromPartial({
      id,
      networkId: 'n1',
      nodeId: 'self',
      kind: EndpointKind.ENDPOINT_KIND_CONTAINER,
      ownerId: `owner-${id}`,
      ...extra,
    }),
  },
});

/** Lets promise chains and file writes finish (real I/O: the records are on a real disk). */
async function until(check: () => boolean | Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!(await check())) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('detachRetryDelayMs', () => {
  it('doubles from 0.5 s with equal jitter and never exceeds 30 s', () => {
    expect([0, 1, 2, 3].map((a) => detachRetryDelayMs(a, () => 0))).toEqual([250, 500, 1000, 2000]);
    expect([0, 1, 2, 3].map((a) => detachRetryDelayMs(a, () => 0.999_999))).toEqual(
      [500, 1000, 2000, 4000].map((c) => expect.closeTo(c, 0) as number),
    );
    for (const attempt of [6, 7, 20, 1000, Number.MAX_SAFE_INTEGER]) {
      const d = detachRetryDelayMs(attempt, () => 0.999_999);
      expect(d).toBeLessThanOrEqual(DETACH_RETRY_MAX_MS);
      expect(d).toBeGreaterThanOrEqual(DETACH_RETRY_MAX_MS / 2);
    }
  });
});

describe('unownedEndpoints', () => {
  it('lists only CONTAINER endpoints of this node that no local record holds', () => {
    const assignments = [
      endpoint('lost'),
      endpoint('held'),
      endpoint('task', { kind: EndpointKind.ENDPOINT_KIND_TASK }),
      endpoint('lb', { kind: EndpointKind.ENDPOINT_KIND_LOAD_BALANCER }),
      endpoint('peer', { nodeId: 'other' }),
      { item: { $case: 'peer', value: { nodeId: 'other', dataPathAddr: '198.51.100.2', bootId: '' } } } as Assignment,
    ];
    expect(unownedEndpoints(assignments, 'self', new Set(['held'])).map((e) => e.id)).toEqual(['lost']);
  });
});

describe('PendingDetaches (manual clock, fake managers, real records)', () => {
  let dir: string;
  let clock: ManualClock;
  let managers: FakeManagers;
  let sessionUp: boolean;
  let assignments: Assignment[];
  let held: Set<string>;
  const open: PendingDetaches[] = [];

  const make = async (): Promise<PendingDetaches> => {
    const p = new PendingDetaches({
      dataRoot: dir,
      clock,
      random: () => 0.5,
      detach: (id) => managers.detach(id),
      sessionUp: () => sessionUp,
      // The managers push an endpoint's removal: the assignments hold what they still have.
      unownedEndpoints: (pending) =>
        unownedEndpoints(
          assignments.filter((a) => a.item?.$case !== 'endpoint' || managers.endpoints.has(a.item.value.id)),
          'self',
          new Set([...pending, ...held]),
        ),
      orphanGraceMs: 30_000,
      orphanScanMs: 5000,
    });
    open.push(p);
    await p.load();
    p.start();
    await asleep();
    return p;
  };
  /** The loop is asleep before the test moves the clock: a sleep started later would miss the move. */
  const asleep = (): Promise<void> => until(() => clock.pendingSleeps > 0, 'the retry loop to sleep');
  const files = async (): Promise<string[]> => (await readdir(join(dir, 'pending-detaches')).catch(() => [])).sort();

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vxmesh-pending-detaches-'));
    clock = new ManualClock(1_000_000);
    managers = new FakeManagers(clock);
    sessionUp = false;
    assignments = [];
    held = new Set();
  });

  afterEach(async () => {
    for (const p of open.splice(0)) {
      await p.close();
    }
    await rm(dir, { recursive: true, force: true });
  });

  it('releases at once when the managers answer, and leaves no record', async () => {
    managers.mode = 'up';
    managers.endpoints.add('ep1');
    sessionUp = true;
    const p = await make();
    expect(await p.release(release('ep1'))).toEqual({ state: 'released' });
    expect(managers.endpoints.has('ep1')).toBe(false);
    expect(p.count).toBe(0);
    expect(await files()).toEqual([]);
  });

  it('records a failed release before resolving, waits for a session, backs off to 30 s, and ends when the managers remove it', async () => {
    managers.endpoints.add('ep1');
    // The session is up but the managers cannot write (no etcd quorum).
    sessionUp = true;
    const p = await make();
    const outcome = await p.release(release('ep1'));
    expect(outcome).toEqual({ state: 'deferred', reason: 'store unavailable: no quorum' });
    sessionUp = false;
    expect(await files()).toEqual(['ep1.pb']);
    expect(p.list().map((r) => [r.endpointId, r.ownerName, r.networkName, r.origin])).toEqual([
      ['ep1', 'web', 'app', 'container'],
    ]);

    // No session: nothing is tried, however long.
    await clock.advance(120_000);
    expect(managers.calls).toHaveLength(1);

    // A session comes up: tried at once, then with growing gaps (random 0.5: three quarters of the ceiling).
    sessionUp = true;
    p.sessionEstablished();
    await until(() => managers.calls.length === 2, 'the retry on the new session');
    await clock.advance(120_000);
    const gaps = managers.calls
      .slice(1)
      .map((c, i, all) => c.at - (all[i - 1]?.at ?? c.at))
      .slice(1);
    expect(gaps.slice(0, 7)).toEqual([750, 1500, 3000, 6000, 12_000, 22_500, 22_500]);
    expect(Math.max(...gaps)).toBeLessThanOrEqual(30_000);

    // The managers are back: released within one capped backoff, record deleted.
    managers.mode = 'up';
    const back = clock.now();
    await clock.advance(30_000);
    await until(async () => p.count === 0 && (await files()).length === 0, 'the record to go');
    expect(managers.endpoints.has('ep1')).toBe(false);
    expect((managers.calls.at(-1)?.at ?? Infinity) - back).toBeLessThanOrEqual(30_000);
  });

  it('survives a restart, retries on every new session, and takes an endpoint already gone for done', async () => {
    const first = await make();
    // Without a session the managers are not even asked (rm does not wait for call timeouts).
    expect(await first.release(release('ep1'))).toEqual({ state: 'deferred', reason: 'no session with a manager' });
    await first.release(release('ep2'));
    expect(managers.calls).toEqual([]);
    await first.close();

    const second = await make();
    expect(second.count).toBe(2);
    sessionUp = true;
    second.sessionEstablished();
    await until(() => managers.calls.length === 2, 'both tried after the restart');
    expect(second.count).toBe(2);

    // Someone removed ep2 meanwhile; ep1 is still there: both count as done.
    managers.mode = 'up';
    managers.endpoints.add('ep1');
    second.sessionEstablished();
    await until(async () => second.count === 0 && (await files()).length === 0, 'both records to go');
    expect(managers.endpoints.size).toBe(0);
  });

  it('drops a pending detach the managers refuse for good', async () => {
    const p = await make();
    await p.release(release('ep1'));
    managers.mode = 'refuse';
    sessionUp = true;
    p.sessionEstablished();
    await until(async () => p.count === 0 && (await files()).length === 0, 'the refused record to go');
    await expect(p.release(release('ep2'))).rejects.toThrow(/another node/);
    expect(p.count).toBe(0);
  });

  it('an attach of an owner first settles its pending detaches, and fails while they cannot be', async () => {
    const p = await make();
    await p.release(release('ep1', 'c1'));
    let attached = 0;
    const attach = (): Promise<string> => {
      attached++;
      return Promise.resolve('ok');
    };
    await expect(p.attaching('c1', attach)).rejects.toThrow(UnavailableError);
    await expect(p.attaching('c1', attach)).rejects.toThrow(
      /ep1 of web is still being released \(store unavailable: no quorum\)/,
    );
    expect(attached).toBe(0);
    // Another owner is not held up.
    expect(await p.attaching('c2', attach)).toBe('ok');
    managers.mode = 'up';
    expect(await p.attaching('c1', attach)).toBe('ok');
    expect(attached).toBe(2);
    expect(p.count).toBe(0);
  });

  it('releases an endpoint with no local owner after the grace, never a task, held or attaching one', async () => {
    managers.mode = 'up';
    assignments = [
      endpoint('lost'),
      endpoint('held'),
      endpoint('task', { kind: EndpointKind.ENDPOINT_KIND_TASK }),
      endpoint('busy', { ownerId: 'c-busy' }),
    ];
    for (const id of ['lost', 'held', 'task', 'busy']) {
      managers.endpoints.add(id);
    }
    held = new Set(['held']);
    sessionUp = true;
    const p = await make();
    // c-busy attaches for a minute: its endpoint is committed before its record is saved.
    let finishAttach: () => void = () => undefined;
    const attaching = p.attaching('c-busy', () => new Promise<void>((resolve) => (finishAttach = resolve)));

    await asleep();
    await clock.advance(25_000);
    expect(managers.calls).toEqual([]);
    await asleep();
    await clock.advance(10_000);
    await until(() => managers.calls.length === 1, 'the lost endpoint to be released');
    expect(managers.calls[0]?.endpointId).toBe('lost');
    await until(async () => p.count === 0 && (await files()).length === 0, 'the orphan record to go');

    await asleep();
    await clock.advance(30_000);
    expect(managers.calls.map((c) => c.endpointId)).toEqual(['lost']);
    // The attach ends without a record holding the endpoint (it failed later): the grace starts over.
    finishAttach();
    await attaching;
    await asleep();
    await clock.advance(25_000);
    expect(managers.calls.map((c) => c.endpointId)).toEqual(['lost']);
    await asleep();
    await clock.advance(10_000);
    await until(() => managers.calls.length === 2, 'the abandoned endpoint to be released');
    expect(managers.calls.map((c) => c.endpointId)).toEqual(['lost', 'busy']);
    expect([...managers.endpoints].sort()).toEqual(['held', 'task']);
  });

  it('refuses a malformed endpoint ID as a file name', async () => {
    const p = await make();
    await expect(p.release(release('../escape'))).rejects.toThrow(/invalid endpoint ID/);
  });
});
