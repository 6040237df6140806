import { describe, expect, it } from 'vitest';
import { callUnary } from '../../src/common/rpc/call-unary.js';
import { certificateIdentity } from '../../src/common/tls/certificate-identity.js';
import { CERT_BACKDATE_MS } from '../../src/manager/ca/certificate-authority.js';
import { LoopbackCluster, waitUntil } from '../support/loopback-daemons.js';
import { ManualClock } from '../support/manual-clock.js';

const HOUR = 3600_000;

describe('node certificate renewal (injected clock)', () => {
  it('renews between 50% and 80% of the lifetime', async () => {
    // TLS checks validity against the real time, so the fake time starts in the past and stays there:
    // certificates it issues are valid now.
    const clock = new ManualClock(Date.now() - 9 * HOUR);
    await using c = new LoopbackCluster();
    const m = await c.start('mgr', clock);
    const token = await c.init(m, { certExpiryMs: BigInt(10 * HOUR) });
    const w = await c.start('wrk', clock);
    await c.join(w, token, m);
    const first = certificateIdentity((await w.identity()).certPem);
    const issuedAt = first.notBefore.getTime() + CERT_BACKDATE_MS;

    await clock.jump(4.9 * HOUR);
    await new Promise((r) => setTimeout(r, 200));
    expect(certificateIdentity((await w.identity()).certPem).serial).toBe(first.serial);

    // Step through the window in 6-minute jumps; the renewal lands in the step where it was due.
    const step = 0.1 * HOUR;
    let renewedBy = 0;
    for (let elapsed = 4.9 * HOUR; elapsed < 8.2 * HOUR && renewedBy === 0;) {
      await clock.jump(step);
      elapsed += step;
      const changed = async (): Promise<boolean> =>
        certificateIdentity((await w.identity()).certPem).serial !== first.serial;
      await waitUntil(changed, 300).then(
        () => (renewedBy = elapsed),
        () => undefined,
      );
    }
    const renewed = certificateIdentity((await w.identity()).certPem);
    const renewedAt = renewed.notBefore.getTime() + CERT_BACKDATE_MS;
    expect(renewedBy).toBeGreaterThan(0);
    expect(renewedAt - issuedAt).toBeGreaterThanOrEqual(5 * HOUR);
    expect(renewedAt - issuedAt).toBeLessThanOrEqual(8 * HOUR + step);
    expect(renewed).toMatchObject({ nodeId: first.nodeId, role: 'worker', clusterId: first.clusterId });
    expect(renewed.notAfter.getTime() - renewedAt).toBe(10 * HOUR);
  });

  it('a node whose certificate expired while it was down re-joins with a token', async () => {
    const clock = new ManualClock(Date.now());
    await using c = new LoopbackCluster();
    const m = await c.start('mgr', clock);
    const token = await c.init(m, { certExpiryMs: BigInt(2 * HOUR) });
    let w = await c.start('wrk', clock);
    const oldId = await c.join(w, token, m);
    await expect(c.join(w, token, m)).rejects.toThrow(/already part of a swarm/);

    // The worker is down for longer than its certificate lives; the manager's own renewal goes on.
    const workerClock = new ManualClock(clock.now() + 3 * HOUR);
    w = await w.restart(workerClock);
    const newId = await c.join(w, token, m);
    expect(newId).not.toBe(oldId);
    const nodes = await callUnary(m.cluster.listNodes.bind(m.cluster), {}, 'ls');
    expect(nodes.nodes.map((n) => n.node?.id)).toContain(newId);
    await waitUntil(() => w.daemon.info().sessionState === 'connected', 10_000, 'session');
  });
});
