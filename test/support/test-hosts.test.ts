import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { runCommand } from './command.js';
import type { OrphanRun } from './fixtures/orphan-test-hosts.js';
import { createTestHosts, sweepStaleTestHosts, TEST_HOSTS_MARKER_DIR } from './test-hosts.js';

async function netnsNames(): Promise<string[]> {
  return readdir('/run/netns').catch(() => []);
}

function mtuOf(netns: string, ifname: string): Promise<number> {
  return runCommand('ip', ['-n', netns, '-j', 'link', 'show', ifname]).then((r) => {
    const [link] = JSON.parse(r.stdout) as [{ mtu: number }];
    return link.mtu;
  });
}

/** True once `pid` is gone or a zombie (a reaper may not have collected it yet). */
async function isDeadOrZombie(pid: number): Promise<boolean> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return stat === undefined || stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}

describe('createTestHosts', () => {
  it('joins hosts on one underlay where each can ping every other', async () => {
    await using hosts = await createTestHosts({ count: 3 });
    expect(hosts.hosts.map((h) => h.underlayIp)).toEqual(['198.51.100.10', '198.51.100.11', '198.51.100.12']);
    expect(hosts.prefix).toMatch(/^vxt-[a-z0-9]{6}-$/);

    const pings = hosts.hosts.flatMap((from) =>
      hosts.hosts
        .filter((to) => to !== from)
        .map((to) => hosts.exec(from, 'ping', ['-c', '1', '-W', '2', to.underlayIp])),
    );
    const results = await Promise.all(pings);
    expect(results.map((r) => r.exitCode)).toEqual([0, 0, 0, 0, 0, 0]);

    const lo = await hosts.exec(0, 'ip', ['-j', 'link', 'show', 'lo']);
    expect(lo.stdout).toContain('"operstate":"UNKNOWN"'); // loopback reports UNKNOWN when up
    expect(await hosts.exec(1, 'ping', ['-c', '1', '-W', '1', '127.0.0.1'])).toMatchObject({ exitCode: 0 });
  });

  it('applies the MTU option to every underlay link', async () => {
    await using hosts = await createTestHosts({ count: 2, mtu: 1400 });
    const mtus = await Promise.all([
      mtuOf(hosts.host(0).netns, 'eth0'),
      mtuOf(hosts.host(1).netns, 'eth0'),
      mtuOf(hosts.underlayNetns, 'br0'),
      mtuOf(hosts.underlayNetns, 'h0'),
      mtuOf(hosts.underlayNetns, 'h1'),
    ]);
    expect(mtus).toEqual([1400, 1400, 1400, 1400, 1400]);

    const peer = hosts.host(1).underlayIp;
    // 1372 bytes of payload + 8 ICMP + 20 IPv4 = 1400: fits unfragmented; one more byte does not.
    const fits = await hosts.exec(0, 'ping', ['-c', '1', '-W', '2', '-M', 'do', '-s', '1372', peer]);
    expect(fits.exitCode).toBe(0);
    const tooBig = await hosts.exec(0, 'ping', ['-c', '1', '-W', '1', '-M', 'do', '-s', '1373', peer], {
      check: false,
    });
    expect(tooBig.exitCode).not.toBe(0);
  });

  it('simulates a partition by cutting a host at the bridge', async () => {
    await using hosts = await createTestHosts({ count: 2 });
    const peer = hosts.host(1).underlayIp;
    await hosts.setUnderlayLink(1, 'down');
    expect((await hosts.exec(0, 'ping', ['-c', '1', '-W', '1', peer], { check: false })).exitCode).not.toBe(0);
    await hosts.setUnderlayLink(1, 'up');
    expect((await hosts.exec(0, 'ping', ['-c', '1', '-W', '2', peer])).exitCode).toBe(0);
  });

  it('destroy removes every namespace, leftover process and the marker, and is idempotent', async () => {
    const hosts = await createTestHosts({ count: 2 });
    const owned = [hosts.underlayNetns, ...hosts.hosts.map((h) => h.netns)];
    expect((await netnsNames()).filter((n) => n.startsWith(hosts.prefix)).sort()).toEqual([...owned].sort());
    const marker = join(TEST_HOSTS_MARKER_DIR, `${hosts.prefix}.json`);
    expect(existsSync(marker)).toBe(true);
    const sleeper = hosts.spawn(1, 'sleep', ['600'], { stdio: 'ignore' });
    const exited = once(sleeper, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
    // Until ip has entered the namespace and exec'd, the process is not in it yet.
    await expect.poll(() => readFile(`/proc/${sleeper.pid}/comm`, 'utf8').catch(() => '')).toBe('sleep\n');

    await Promise.all([hosts.destroy(), hosts.destroy()]);
    await hosts.destroy();

    expect((await netnsNames()).filter((n) => n.startsWith(hosts.prefix))).toEqual([]);
    expect(existsSync(marker)).toBe(false);
    const [, signal] = await exited;
    expect(signal).toBe('SIGKILL');
  });

  it('rejects options it cannot honour', async () => {
    await expect(createTestHosts({ count: 0 })).rejects.toThrow(RangeError);
    await expect(createTestHosts({ count: 1, mtu: 10 })).rejects.toThrow(RangeError);
    await expect(createTestHosts({ count: 1, prefix: 'Bad Prefix' })).rejects.toThrow(RangeError);
  });
});

describe('sweepStaleTestHosts', () => {
  // A prefix of its own, so this test never sweeps runs of other test files and vice versa.
  const prefix = 'vxsw-';
  const cleanups: (() => Promise<unknown>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) {
      await cleanup();
    }
  });

  it("removes a dead run's namespaces, processes and marker but leaves a live run alone", async () => {
    await using live = await createTestHosts({ count: 1, prefix });

    const fixture = fileURLToPath(new URL('./fixtures/orphan-test-hosts.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, prefix], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    cleanups.push(async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL');
        await once(child, 'exit');
      }
    });
    const line = await new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', resolve);
      child.once('exit', (code, signal) => reject(new Error(`fixture exited (${code ?? signal}) before reporting`)));
    });
    const dead = JSON.parse(line) as OrphanRun;
    // Safety net should the sweeper fail: remove what the child left, by exact name and pid.
    cleanups.push(async () => {
      await runCommand('ip', ['-force', '-batch', '-'], {
        input: dead.namespaces.map((ns) => `netns del ${ns}\n`).join(''),
        check: false,
      });
      try {
        process.kill(dead.sleeperPid, 'SIGKILL');
      } catch {
        // already gone
      }
    });
    expect(await isDeadOrZombie(dead.sleeperPid)).toBe(false);

    // The child is alive: its run is live and must survive a sweep.
    expect(await sweepStaleTestHosts(prefix)).toEqual([]);
    expect(await netnsNames()).toEqual(expect.arrayContaining([...dead.namespaces]));

    child.kill('SIGKILL');
    await once(child, 'exit');

    const swept = await sweepStaleTestHosts(prefix);
    expect(swept.sort()).toEqual([...dead.namespaces].sort());
    const left = await netnsNames();
    expect(left.filter((n) => n.startsWith(dead.prefix))).toEqual([]);
    expect(existsSync(join(TEST_HOSTS_MARKER_DIR, `${dead.prefix}.json`))).toBe(false);
    await expect.poll(() => isDeadOrZombie(dead.sleeperPid)).toBe(true);

    // The live run is untouched and still works.
    expect(left).toContain(live.host(0).netns);
    expect(left).toContain(live.underlayNetns);
    expect(existsSync(join(TEST_HOSTS_MARKER_DIR, `${live.prefix}.json`))).toBe(true);
    expect((await live.exec(0, 'ping', ['-c', '1', '-W', '1', live.host(0).underlayIp])).exitCode).toBe(0);
  });
});
