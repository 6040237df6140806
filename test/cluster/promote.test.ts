import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { certificateIdentity } from '../../src/common/tls/certificate-identity.js';
import { startEtcd } from '../support/etcd-server.js';
import type { EtcdServer } from '../support/etcd-server.js';
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHosts } from '../support/test-hosts.js';
import { destroyAll, logTails, parseNodeLs, startVxmeshds, waitFor } from '../support/vxmeshd-harness.js';
import type { NodeLsRow, Vxmeshd } from '../support/vxmeshd-harness.js';

/**
 * A worker promoted to manager in a cluster kept in etcd: etcd runs inside host0's namespace on
 * the underlay, so both managers reach it over the network like a real deployment.
 */
describe('node promote with the store in etcd (2 hosts)', () => {
  /** How long the second test watches both managers' node lists. */
  const WATCH_MS = 40_000;
  let hosts: TestHosts | undefined;
  let etcd: EtcdServer | undefined;
  const daemons: Vxmeshd[] = [];

  const daemon = (i: number): Vxmeshd => {
    const d = daemons[i];
    if (!d) {
      throw new Error(`no daemon on host ${i}`);
    }
    return d;
  };

  const nodeLs = async (d: Vxmeshd): Promise<NodeLsRow[]> => parseNodeLs(await d.cliOk(['node', 'ls']));

  const certificateRole = async (d: Vxmeshd): Promise<string> => {
    const identity = JSON.parse(await readFile(join(d.dataRoot, 'certificates', 'node-identity.json'), 'utf8')) as {
      certPem: string;
    };
    return certificateIdentity(identity.certPem).role;
  };

  beforeAll(async () => {
    hosts = await createTestHosts({ count: 2 });
    const h0 = hosts.host(0);
    etcd = await startEtcd({ netns: h0.netns, listenHost: h0.underlayIp });
    daemons.push(...(await startVxmeshds(hosts, [0, 1])));
  });

  afterAll(async () => {
    try {
      await destroyAll(daemons);
    } finally {
      try {
        await etcd?.stop();
      } finally {
        await hosts?.destroy();
      }
    }
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      console.error(await logTails(daemons));
    });
  });

  it('promotes a worker: it renews its certificate, starts its manager and shows Reachable', async () => {
    const [m, w] = [daemon(0), daemon(1)];
    expect(etcd?.endpoint).toMatch(/^http:\/\/198\.51\.100\.10:\d+$/);
    await m.cliOk(['swarm', 'init', '--etcd-endpoints', etcd?.endpoint ?? '', '--advertise-addr', '198.51.100.10']);
    const token = (await m.cliOk(['swarm', 'join-token', '-q', 'worker'])).trim();
    expect(await w.cli(['swarm', 'join', '--token', token, '198.51.100.10:2377'])).toEqual({
      code: 0,
      stdout: 'This node joined a swarm as a worker.\n',
      stderr: '',
    });
    await waitFor(
      async () => {
        const ls = await nodeLs(m);
        return ls.length === 2 && ls.every((r) => r.status === 'Ready');
      },
      15_000,
      { what: 'host1 Ready as a worker' },
    );
    expect(await certificateRole(w)).toBe('worker');

    expect(await m.cli(['node', 'promote', 'host1'])).toEqual({
      code: 0,
      stdout: 'Node host1 promoted to a manager in the swarm.\n',
      stderr: '',
    });

    // The promoted node learns its new role over its session, renews its certificate as a
    // manager and starts its own manager on the same etcd; then its node ls works.
    const ownView = await waitFor(
      async () => {
        const res = await w.cli(['node', 'ls']);
        return res.code === 0 && parseNodeLs(res.stdout);
      },
      20_000,
      { what: "host1's own node ls to work after promotion" },
    );
    expect(await certificateRole(w)).toBe('manager');
    expect((await w.info()).role).toBe((await m.info()).role);
    expect(ownView.map((r) => [r.hostname, r.self, r.status])).toEqual([
      ['host0', false, 'Ready'],
      ['host1', true, 'Ready'],
    ]);

    const rows = await nodeLs(m);
    expect(rows.map((r) => [r.hostname, r.self, r.status, r.managerStatus])).toEqual([
      ['host0', true, 'Ready', 'Leader'],
      ['host1', false, 'Ready', 'Reachable'],
    ]);
  });

  it(
    'keeps both managers Ready and Reachable past the heartbeat timeout',
    async () => {
      // Neither manager may mark down a node that heartbeats to the other one. The timeout is
      // 5 s × 3 missed heartbeats, doubled for nodes a manager has not heard from since its start,
      // checked every 2.5 s: watch for 40 s from here (host1's manager started in the test above).
      const [m, w] = [daemon(0), daemon(1)];
      const seen = new Set<string>();
      const deadline = Date.now() + WATCH_MS;
      for (let i = 0; i < WATCH_MS / 500 && Date.now() < deadline; i++) {
        for (const [from, rows] of [
          ['host0', await nodeLs(m)],
          ['host1', await nodeLs(w)],
        ] as const) {
          for (const r of rows) {
            seen.add(`${from} sees ${r.hostname} ${r.status}`);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect([...seen].sort()).toEqual([
        'host0 sees host0 Ready',
        'host0 sees host1 Ready',
        'host1 sees host0 Ready',
        'host1 sees host1 Ready',
      ]);
    },
    WATCH_MS + 20_000,
  );
});
