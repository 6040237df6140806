/**
 * Three managers on a 3-member etcd secured with TLS exactly as deploy/etcd/README.md sets it up
 * (certificates from gen-certs.sh, member configuration from etcd-member.sh, vxmeshd's
 * --etcd-cacert/--etcd-cert/--etcd-key), with the default 5 s heartbeat, so manager leases of
 * 15 s. Measures leader failover against issue 10's acceptance: a new leader within two lease
 * periods, API writes through a surviving manager within 5 s of the kill, no task rescheduled
 * because of the failover, `node ls` showing Leader/Reachable/Unreachable from real liveness.
 * Also: a cluster on the embedded store refuses a second manager with a message saying how to
 * run several.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import { startEtcdCluster } from '../support/etcd-cluster.js';
import type { EtcdCluster } from '../support/etcd-cluster.js';
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHosts } from '../support/test-hosts.js';
import { destroyAll, logTails, parseNodeLs, startVxmeshd, startVxmeshds, waitFor } from '../support/vxmeshd-harness.js';
import type { NodeLsRow, Vxmeshd } from '../support/vxmeshd-harness.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const GEN_CERTS = join(REPO_ROOT, 'deploy/etcd/gen-certs.sh');
const MEMBER_ENV = join(REPO_ROOT, 'deploy/etcd/etcd-member.sh');
const MANAGERS = [0, 1, 2];
const WORKERS = [3, 4];
/** Default heartbeat 5 s; a manager's lease lasts three periods. */
const LEASE_MS = 15_000;

/** KEY=VALUE lines of an environment file, comments skipped. */
function parseEnvFile(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) {
      env[m[1]] = m[2];
    }
  }
  return env;
}

describe('3 managers on a TLS etcd made by deploy/etcd, default heartbeat', () => {
  let hosts: TestHosts | undefined;
  let etcd: EtcdCluster | undefined;
  let pki = '';
  const daemons: Vxmeshd[] = [];
  const d = (i: number): Vxmeshd => {
    const x = daemons[i];
    if (!x) {
      throw new Error(`no daemon on host ${i}`);
    }
    return x;
  };
  const nodeLs = async (via: number): Promise<NodeLsRow[] | undefined> => {
    const res = await d(via).cli(['node', 'ls'], { timeoutMs: 10_000 });
    return res.code === 0 ? parseNodeLs(res.stdout) : undefined;
  };
  const statusOf = (rows: readonly NodeLsRow[] | undefined): string[] =>
    (rows ?? []).map((r) => `${r.hostname} ${r.status} ${r.managerStatus}`.trim());
  const leaderOf = async (via: number): Promise<string | undefined> =>
    (await nodeLs(via))?.find((r) => r.managerStatus === 'Leader')?.hostname;
  const runningTasks = async (via: number): Promise<string[]> =>
    (await d(via).cliOk(['service', 'ps', 'web', '--filter', 'desired-state=running', '-q', '--no-trunc']))
      .split('\n')
      .filter((l) => l !== '')
      .sort();

  beforeAll(async () => {
    hosts = await createTestHosts({ count: MANAGERS.length + WORKERS.length });
    const h = hosts;
    pki = await mkdtemp(join(tmpdir(), 'vxmesh-etcd-pki-'));
    const members = MANAGERS.map((i) => `m${i}=${h.host(i).underlayIp}`);
    await runCommand('sh', [GEN_CERTS, pki, ...members]);
    const memberEnv = await Promise.all(
      MANAGERS.map(async (i) =>
        parseEnvFile((await runCommand('sh', [MEMBER_ENV, `m${i}`, pki, '/unused', ...members])).stdout),
      ),
    );
    etcd = await startEtcdCluster({
      placement: MANAGERS.map((i) => ({ netns: h.host(i).netns, host: h.host(i).underlayIp })),
      memberEnv,
      clientTls: {
        caFile: join(pki, 'ca.pem'),
        certFile: join(pki, 'm0-client.pem'),
        keyFile: join(pki, 'm0-client-key.pem'),
      },
    });
    const tlsArgs = (i: number): string[] => [
      '--etcd-cacert',
      join(pki, 'ca.pem'),
      '--etcd-cert',
      join(pki, `m${i}-client.pem`),
      '--etcd-key',
      join(pki, `m${i}-client-key.pem`),
    ];
    for (const i of [...MANAGERS, ...WORKERS]) {
      daemons.push(await startVxmeshd(h, i, MANAGERS.includes(i) ? { extraArgs: tlsArgs(i) } : {}));
    }
  }, 120_000);

  afterAll(async () => {
    try {
      await destroyAll(daemons);
    } finally {
      try {
        await etcd?.stop();
      } finally {
        await hosts?.destroy();
        if (pki) {
          await rm(pki, { recursive: true, force: true });
        }
      }
    }
  }, 60_000);

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      console.error(await logTails(daemons));
    });
  });

  it('inits over https, joins two managers and two workers; node ls shows one Leader and two Reachable', async () => {
    const h = hosts as TestHosts;
    const endpoints = (etcd as EtcdCluster).endpoints;
    expect(endpoints.every((e) => e.startsWith('https://198.51.100.'))).toBe(true);
    const ip0 = h.host(0).underlayIp;
    await d(0).cliOk(['swarm', 'init', '--advertise-addr', ip0, '--etcd-endpoints', endpoints.join(',')]);
    // The cluster record holds the endpoints; the joining managers use their own client certificates.
    const managerToken = (await d(0).cliOk(['swarm', 'join-token', '-q', 'manager'])).trim();
    const workerToken = (await d(0).cliOk(['swarm', 'join-token', '-q', 'worker'])).trim();
    for (const i of MANAGERS.slice(1)) {
      expect(await d(i).cliOk(['swarm', 'join', '--token', managerToken, `${ip0}:2377`])).toBe(
        'This node joined a swarm as a manager.\n',
      );
    }
    for (const i of WORKERS) {
      await d(i).cliOk(['swarm', 'join', '--token', workerToken, `${ip0}:2377`]);
    }
    for (const via of MANAGERS) {
      await waitFor(
        async () =>
          JSON.stringify(statusOf(await nodeLs(via))) ===
          JSON.stringify([
            'host0 Ready Leader',
            'host1 Ready Reachable',
            'host2 Ready Reachable',
            'host3 Ready',
            'host4 Ready',
          ]),
        20_000,
        { what: `node ls on host${via}` },
      );
    }
    await d(1).cliOk(
      [
        'service',
        'create',
        '--name',
        'web',
        '--replicas',
        '2',
        '--constraint',
        'node.role==worker',
        '--',
        'sleep',
        '3600',
      ],
      { timeoutMs: 60_000 },
    );
  });

  /**
   * Injects `fault` on the leader and measures from then: the new leader in `node ls` of a
   * surviving manager, the first API write that succeeds through it (polled every 250 ms), and
   * whether any service task was replaced or any worker went Down, over two lease periods.
   */
  const failover = async (fault: 'kill' | 'pause'): Promise<void> => {
    const old = await leaderOf(1);
    const victim = Number(old?.replace('host', '') ?? -1);
    expect(MANAGERS).toContain(victim);
    const via = MANAGERS.find((m) => m !== victim) ?? 1;
    const before = await runningTasks(via);
    expect(before).toHaveLength(2);
    const t0 = Date.now();
    await d(victim).kill(fault === 'kill' ? 'SIGKILL' : 'SIGSTOP');
    let writeMs: number | undefined;
    let leaderMs: number | undefined;
    const downSeen = new Set<string>();
    for (let i = 0; Date.now() - t0 < 2 * LEASE_MS + 5000 && i < 400; i++) {
      if (writeMs === undefined) {
        const res = await d(via).cli(['network', 'create', '-d', 'overlay', `probe-${fault}-${i}`], {
          timeoutMs: 10_000,
        });
        if (res.code === 0) {
          writeMs = Date.now() - t0;
        }
      }
      const rows = await nodeLs(via);
      for (const r of rows ?? []) {
        if (r.status === 'Down' && r.hostname !== old) {
          downSeen.add(r.hostname);
        }
      }
      const leader = rows?.find((r) => r.managerStatus === 'Leader')?.hostname;
      if (leaderMs === undefined && leader !== undefined && leader !== old) {
        leaderMs = Date.now() - t0;
        expect(rows?.find((r) => r.hostname === old)?.managerStatus).toBe('Unreachable');
      }
      if (leaderMs !== undefined && writeMs !== undefined && Date.now() - t0 > leaderMs + 2 * 5000) {
        break;
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const after = await runningTasks(via);
    if (fault === 'kill') {
      await d(victim).restart();
    } else {
      await d(victim).kill('SIGCONT');
    }
    await waitFor(
      async () => {
        const s = statusOf(await nodeLs(victim));
        return (
          s.length === 5 && s.every((x) => x.includes('Ready')) && s.filter((x) => x.endsWith('Reachable')).length === 2
        );
      },
      30_000,
      { what: `host${victim} back as a Reachable manager` },
    );
    const line =
      `FAILOVER ${fault} of the leader (heartbeat 5 s, lease 15 s): new leader after ${((leaderMs ?? NaN) / 1000).toFixed(1)}s, ` +
      `first API write through host${via} after ${((writeMs ?? NaN) / 1000).toFixed(1)}s, ` +
      `tasks replaced ${before.filter((t) => !after.includes(t)).length}, workers seen Down [${[...downSeen].join(' ')}]`;
    console.log(line);
    expect(leaderMs, line).toBeLessThan(2 * LEASE_MS);
    expect(writeMs, line).toBeLessThan(5000);
    expect(after, line).toEqual(before);
    expect([...downSeen], line).toEqual([]);
  };

  it('kill -9 of the leader: new leader within two leases, writes within 5 s, no task moves', { timeout: 90_000 }, () =>
    failover('kill'),
  );

  it(
    'SIGSTOP of the leader past its lease: the same, and it rejoins as Reachable on SIGCONT',
    { timeout: 90_000 },
    () => failover('pause'),
  );

  it('the managers really use TLS client certificates: etcd refuses a client without one', async () => {
    const h = hosts as TestHosts;
    const endpoint = (etcd as EtcdCluster).endpoints[0] ?? '';
    const res = await h.exec(
      0,
      'etcdctl',
      [
        '--endpoints',
        endpoint,
        '--cacert',
        join(pki, 'ca.pem'),
        '--dial-timeout=2s',
        '--command-timeout=2s',
        'get',
        'x',
      ],
      { check: false },
    );
    expect(res.exitCode).not.toBe(0);
    expect(await readFile(join(pki, 'm1-client.pem'), 'utf8')).toMatch(/BEGIN CERTIFICATE/);
  });
});

describe('a cluster on the embedded store', () => {
  let hosts: TestHosts | undefined;
  const daemons: Vxmeshd[] = [];

  beforeAll(async () => {
    hosts = await createTestHosts({ count: 2 });
    daemons.push(...(await startVxmeshds(hosts, [0, 1])));
  }, 60_000);

  afterAll(async () => {
    try {
      await destroyAll(daemons);
    } finally {
      await hosts?.destroy();
    }
  });

  it('refuses a second manager, saying how to run several', async () => {
    const [m, j] = daemons as [Vxmeshd, Vxmeshd];
    await m.cliOk(['swarm', 'init', '--advertise-addr', '198.51.100.10']);
    const token = (await m.cliOk(['swarm', 'join-token', '-q', 'manager'])).trim();
    const res = await j.cli(['swarm', 'join', '--token', token, '198.51.100.10:2377']);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr).toMatch(/embedded store.*cannot add managers.*swarm init --etcd-endpoints/);
    expect(res.stderr.trim().split('\n')).toHaveLength(1);
    expect((await j.info()).localNodeState).toBe('inactive');
  });
});
