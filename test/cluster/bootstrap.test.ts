import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestHosts } from '../support/test-hosts.js';
import type { TestHosts } from '../support/test-hosts.js';
import { destroyAll, logTails, parseNodeLs, startVxmeshds, waitFor } from '../support/vxmeshd-harness.js';
import type { CliResult, NodeLsRow, Vxmeshd } from '../support/vxmeshd-harness.js';

/**
 * Three real vxmeshd processes, one per network namespace, on the 198.51.100.0/24 underlay,
 * driven only through the real CLI. The steps build on each other, in order: bootstrap, crash
 * and restart, a worker leaving, then join refusals from the host that left.
 */
describe('cluster bootstrap over the underlay (3 hosts)', () => {
  const MANAGER_ADDR = '198.51.100.10:2377';
  /**
   * Heartbeat 5 s × 3 misses, doubled while the manager is young (a node nobody serves gets twice
   * the grace for 30 s after a manager starts, so a failover marks nothing Down), plus the
   * detector's tick and slack.
   */
  const DOWN_TIMEOUT_MS = 45_000;
  let hosts: TestHosts | undefined;
  const daemons: Vxmeshd[] = [];

  const daemon = (i: number): Vxmeshd => {
    const d = daemons[i];
    if (!d) {
      throw new Error(`no daemon on host ${i}`);
    }
    return d;
  };

  const nodeLs = async (d: Vxmeshd): Promise<NodeLsRow[]> => parseNodeLs(await d.cliOk(['node', 'ls']));

  const identityFile = (d: Vxmeshd): Promise<string> =>
    readFile(join(d.dataRoot, 'certificates', 'node-identity.json'), 'utf8');

  /** A refused CLI command: exit 1, nothing on stdout, exactly one `Error:` line on stderr. */
  const expectOneLineError = (res: CliResult, message: RegExp): void => {
    expect(res.code).toBe(1);
    expect(res.stdout).toBe('');
    expect(res.stderr.split('\n')).toHaveLength(2); // one line and its newline
    expect(res.stderr).toMatch(/^Error: /);
    expect(res.stderr.trimEnd()).toMatch(message);
  };

  beforeAll(async () => {
    hosts = await createTestHosts({ count: 3 });
    daemons.push(...(await startVxmeshds(hosts, [0, 1, 2])));
  });

  afterAll(async () => {
    try {
      await destroyAll(daemons);
    } finally {
      await hosts?.destroy();
    }
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(async () => {
      console.error(await logTails(daemons));
    });
  });

  it('inits on host0 and joins host1 and host2 with the printed command; node ls shows 3 Ready nodes', async () => {
    const m = daemon(0);
    const init = await m.cliOk(['swarm', 'init', '--advertise-addr', '198.51.100.10']);
    const joinLine = /^ {4}(vxmesh swarm join --token SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25} 198\.51\.100\.10:2377)$/m.exec(
      init,
    );
    expect(joinLine, init).not.toBeNull();
    // The printed command, run as printed on each host, with only -H (which daemon) added.
    const joinArgs = (joinLine?.[1] ?? '').split(' ').slice(1);
    for (const d of [daemon(1), daemon(2)]) {
      expect(await d.cli(joinArgs)).toEqual({ code: 0, stdout: 'This node joined a swarm as a worker.\n', stderr: '' });
    }

    const rows = await waitFor(
      async () => {
        const ls = await nodeLs(m);
        return ls.length === 3 && ls.every((r) => r.status === 'Ready') && ls;
      },
      15_000,
      { what: '3 Ready nodes in node ls on host0' },
    );
    expect(rows.map((r) => [r.hostname, r.self, r.status, r.availability, r.managerStatus])).toEqual([
      ['host0', true, 'Ready', 'Active', 'Leader'],
      ['host1', false, 'Ready', 'Active', ''],
      ['host2', false, 'Ready', 'Active', ''],
    ]);
    // Each row's ID is the one its own daemon holds.
    const infos = await Promise.all(daemons.map((d) => d.info()));
    expect(rows.map((r) => r.id)).toEqual(infos.map((i) => i.nodeId));
    expect(infos.map((i) => i.sessionState)).toEqual(['connected', 'connected', 'connected']);
    // The joiners advertised their underlay addresses, found by routing toward the manager.
    const inspected = JSON.parse(await m.cliOk(['node', 'inspect', 'host1', 'host2'])) as {
      Status: { Addr?: string };
    }[];
    expect(inspected.map((n) => n.Status.Addr)).toEqual(['198.51.100.11', '198.51.100.12']);
    // A worker cannot read cluster state.
    expectOneLineError(
      await daemon(1).cli(['node', 'ls']),
      /^Error: This node is not a swarm manager\. Worker nodes can't/,
    );
  });

  it('comes back after kill -9 of every daemon with the same node IDs and certificates', async () => {
    const m = daemon(0);
    const idsBefore = await m.cliOk(['node', 'ls', '-q']);
    const inspectBefore = await m.cliOk(['node', 'inspect', 'host0', 'host1', 'host2']);
    const identitiesBefore = await Promise.all(daemons.map(identityFile));
    expect(idsBefore.trim().split('\n')).toHaveLength(3);

    await Promise.all(daemons.map((d) => d.kill('SIGKILL')));
    expect(daemons.map((d) => d.pid)).toEqual([undefined, undefined, undefined]);
    await Promise.all(daemons.map((d) => d.restart()));

    // Every agent has opened a new session with the restarted manager on its own.
    await waitFor(
      async () => (await Promise.all(daemons.map((d) => d.info()))).every((i) => i.sessionState === 'connected'),
      20_000,
      { what: 'every restarted agent to reconnect' },
    );
    const rows = await nodeLs(m);
    expect(rows.map((r) => [r.hostname, r.status])).toEqual([
      ['host0', 'Ready'],
      ['host1', 'Ready'],
      ['host2', 'Ready'],
    ]);
    expect(await m.cliOk(['node', 'ls', '-q'])).toBe(idsBefore);
    const ids = (json: string): string[] => (JSON.parse(json) as { ID: string }[]).map((n) => n.ID);
    expect(ids(await m.cliOk(['node', 'inspect', 'host0', 'host1', 'host2']))).toEqual(ids(inspectBefore));
    expect((await Promise.all(daemons.map((d) => d.info()))).map((i) => i.nodeId)).toEqual(ids(inspectBefore));
    expect(await Promise.all(daemons.map(identityFile))).toEqual(identitiesBefore);
  });

  it('marks a worker that left Down after the heartbeat timeout; node rm then works without --force', { timeout: 90_000 }, async () => {
    const m = daemon(0);
    const leaver = daemon(2);
    expect(await leaver.cli(['swarm', 'leave'])).toEqual({ code: 0, stdout: 'Node left the swarm.\n', stderr: '' });
    expect(await leaver.info()).toMatchObject({ localNodeState: 'inactive', nodeId: '' });
    expect(existsSync(join(leaver.dataRoot, 'state.json'))).toBe(false);
    expect(existsSync(join(leaver.dataRoot, 'certificates'))).toBe(false);
    // Still Ready for a while: a plain rm is refused until the manager has seen it go.
    expectOneLineError(
      await m.cli(['node', 'rm', 'host2']),
      /^Error: node \w+ is not down and can't be removed; use --force/,
    );

    const rows = await waitFor(
      async () => {
        const ls = await nodeLs(m);
        return ls.find((r) => r.hostname === 'host2')?.status === 'Down' && ls;
      },
      DOWN_TIMEOUT_MS,
      { what: 'host2 Down in node ls', intervalMs: 500 },
    );
    expect(rows.map((r) => [r.hostname, r.status])).toEqual([
      ['host0', 'Ready'],
      ['host1', 'Ready'],
      ['host2', 'Down'],
    ]);
    expect(await m.cli(['node', 'rm', 'host2'])).toEqual({ code: 0, stdout: 'host2\n', stderr: '' });
    expect((await nodeLs(m)).map((r) => r.hostname)).toEqual(['host0', 'host1']);
  });

  it('refuses bad join tokens over the network with one clear line and no state change', async () => {
    const m = daemon(0);
    const joiner = daemon(2); // left the cluster in the previous step
    expect(await joiner.info()).toMatchObject({ localNodeState: 'inactive' });
    const token = (await m.cliOk(['swarm', 'join-token', '-q', 'worker'])).trim();
    const [prefix, version, digest = '', secret = ''] = token.split('-');
    expect([prefix, version, digest.length, secret.length]).toEqual(['SWMTKN', '1', 50, 25]);
    // A well-formed digest of something else: SHA-256 of another text, as 50 base-36 characters.
    const otherDigest = BigInt(`0x${createHash('sha256').update('not this cluster').digest('hex')}`)
      .toString(36)
      .padStart(50, '0');
    expect(otherDigest).not.toBe(digest);

    const idsBefore = await m.cliOk(['node', 'ls', '-q']);
    expect(idsBefore.trim().split('\n')).toHaveLength(2);
    const refuse = async (badToken: string, message: RegExp): Promise<void> => {
      expectOneLineError(await joiner.cli(['swarm', 'join', '--token', badToken, MANAGER_ADDR]), message);
      expect(await m.cliOk(['node', 'ls', '-q'])).toBe(idsBefore);
      expect(await joiner.info()).toMatchObject({ localNodeState: 'inactive', nodeId: '' });
      expect(existsSync(join(joiner.dataRoot, 'state.json'))).toBe(false);
    };

    await refuse(
      `SWMTKN-1-${otherDigest}-${secret}`,
      /^Error: the CA served by 198\.51\.100\.10:2377 does not match the join token's digest; refusing to join$/,
    );
    await refuse(`SWMTKX-1-${digest}-${secret}`, /^Error: invalid token: must start with SWMTKN-1-$/);
    await refuse(`SWMTKN-1-${digest}`, /^Error: invalid token: has 3 parts separated by '-', want 4$/);
    await refuse(`SWMTKN-1-${digest}-${secret}-x`, /^Error: invalid token: has 5 parts separated by '-', want 4$/);
    await refuse(
      `SWMTKN-1-${digest.slice(1)}-${secret}`,
      /^Error: invalid token: CA digest must be 50 base-36 characters$/,
    );
    await refuse(`SWMTKN-1-${digest}-${secret}0`, /^Error: invalid token: secret must be 25 base-36 characters$/);

    const rotated = await m.cliOk(['swarm', 'join-token', '--rotate', 'worker']);
    expect(rotated).toMatch(/^Successfully rotated worker join token\.\n/);
    const newToken = (await m.cliOk(['swarm', 'join-token', '-q', 'worker'])).trim();
    expect(newToken).not.toBe(token);
    await refuse(token, /^Error: join token is invalid or has been rotated$/);

    // The same host joins with the current token: the refusals were the tokens' doing alone.
    expect(await joiner.cli(['swarm', 'join', '--token', newToken, MANAGER_ADDR])).toEqual({
      code: 0,
      stdout: 'This node joined a swarm as a worker.\n',
      stderr: '',
    });
    await waitFor(
      async () => {
        const ls = await nodeLs(m);
        return ls.length === 3 && ls.every((r) => r.status === 'Ready');
      },
      15_000,
      { what: 'host2 Ready again after joining with the current token' },
    );
  });
});
