import { describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import { useDaemonCluster } from '../support/daemon-cluster.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import type { Vxmeshd } from '../support/vxmeshd-harness.js';

/**
 * The seeds' alias and link walkthrough (docker's "links and aliases in user-defined networks"),
 * step by step on two real daemons, with names resolved by the embedded DNS and checked with
 * `dig`, libc (`getent`) and `ping` inside the containers:
 *
 *   host0: container4 (--link container5:c5), container5 (--link container4:c4), container7
 *   host1: container6 (--network-alias app, then connect --alias scoped-app)
 *
 * Two overlays: isolated_nw and local_alias. container6 lives on another node, so its records
 * reach host0 through the managers' assignments, and its removal too.
 */
describe('aliases and links walkthrough (2 daemons, dig/getent/ping by name)', () => {
  const cluster = useDaemonCluster({ hosts: 2, daemons: 2, attachableNetworks: ['isolated_nw', 'local_alias'] });
  const d = (i: number): Vxmeshd => cluster.daemon(i);
  const ipOf = (i: number, name: string, network: string): Promise<string> => cluster.ipOf(i, name, network);
  /** `dig +short NAME` inside a container of host0, sorted. */
  const dig = async (container: string, name: string): Promise<string[]> =>
    (await d(0).cliOk(['exec', container, '--', 'dig', '+short', '+tries=2', '+time=2', name]))
      .trim()
      .split('\n')
      .filter((l) => l !== '')
      .sort();
  const status = async (container: string, name: string): Promise<string> =>
    /status: (\w+)/.exec(await d(0).cliOk(['exec', container, '--', 'dig', '+tries=2', '+time=2', name]))?.[1] ??
    'no answer';
  const ping = (container: string, name: string) =>
    d(0).cli(['exec', container, '--', 'ping', '-c', '1', '-W', '1', name]);
  const eventuallyPings = async (container: string, name: string): Promise<void> => {
    await waitFor(async () => (await ping(container, name)).code === 0, 15_000, { what: `${container} pings ${name}` });
  };
  const eventually = async (check: () => Promise<boolean>, what: string): Promise<void> => {
    await waitFor(async () => (await check()) || undefined, 10_000, { what });
  };

  it('1. links on isolated_nw: container4 reaches c5 and container5 reaches c4; each link is private', async () => {
    // container5 does not exist yet when container4 links to it: links resolve when asked.
    await d(0).cliOk([
      'run',
      '-d',
      '--name',
      'container4',
      '--network',
      'isolated_nw',
      '--link',
      'container5:c5',
      '--',
      'sleep',
      '600',
    ]);
    await d(0).cliOk([
      'run',
      '-d',
      '--name',
      'container5',
      '--network',
      'isolated_nw',
      '--link',
      'container4:c4',
      '--',
      'sleep',
      '600',
    ]);
    const ip4 = await ipOf(0, 'container4', 'isolated_nw');
    const ip5 = await ipOf(0, 'container5', 'isolated_nw');
    expect(await dig('container4', 'c5')).toEqual([ip5]);
    expect(await dig('container5', 'c4')).toEqual([ip4]);
    expect(await dig('container4', 'container5')).toEqual([ip5]);
    expect(await status('container5', 'c5')).toBe('NXDOMAIN');
    expect(await status('container4', 'c4')).toBe('NXDOMAIN');
    const conf = await d(0).cliOk(['exec', 'container4', '--', 'cat', '/etc/resolv.conf']);
    expect(conf).toContain('nameserver 127.0.0.11');
    await eventuallyPings('container4', 'c5');
    await eventuallyPings('container5', 'c4');
  });

  it('2. links given on connect to local_alias: foo and bar, each on that network only', async () => {
    await d(0).cliOk(['network', 'connect', '--link', 'container5:foo', 'local_alias', 'container4']);
    await d(0).cliOk(['network', 'connect', '--link', 'container4:bar', 'local_alias', 'container5']);
    const ip5local = await ipOf(0, 'container5', 'local_alias');
    const ip4local = await ipOf(0, 'container4', 'local_alias');
    expect(await dig('container4', 'foo')).toEqual([ip5local]);
    expect(await dig('container5', 'bar')).toEqual([ip4local]);
    expect(await dig('container4', 'foo.local_alias')).toEqual([ip5local]);
    expect(await status('container4', 'foo.isolated_nw')).toBe('NXDOMAIN');
    await eventuallyPings('container4', 'foo');
    await eventuallyPings('container4', 'c5');
    await eventuallyPings('container5', 'bar');
  });

  it('3. network-scoped aliases: app on isolated_nw and scoped-app on local_alias for container6 (other node)', async () => {
    await d(1).cliOk([
      'run',
      '-d',
      '--name',
      'container6',
      '--network',
      'isolated_nw',
      '--network-alias',
      'app',
      '--',
      'sleep',
      '600',
    ]);
    await d(1).cliOk(['network', 'connect', '--alias', 'scoped-app', 'local_alias', 'container6']);
    const ip6 = await ipOf(1, 'container6', 'isolated_nw');
    const ip6local = await ipOf(1, 'container6', 'local_alias');
    await eventually(async () => (await dig('container4', 'app')).join() === ip6, 'app on host0');
    await eventually(async () => (await dig('container4', 'scoped-app')).join() === ip6local, 'scoped-app on host0');
    expect(await status('container4', 'scoped-app.isolated_nw')).toBe('NXDOMAIN');
    expect((await d(0).cliOk(['exec', 'container4', '--', 'getent', 'ahostsv4', 'app'])).split(/\s/)[0]).toBe(ip6);
    await eventuallyPings('container4', 'app');
    await eventuallyPings('container4', 'scoped-app');
    // PTR: <name>.<network>.
    const ptr = await d(0).cliOk(['exec', 'container4', '--', 'dig', '+short', '-x', ip6]);
    expect(ptr.trim()).toBe('container6.isolated_nw.');
  });

  it('4. container7 shares app: both answer, shuffled; stopping container6 leaves container7', async () => {
    await d(0).cliOk([
      'run',
      '-d',
      '--name',
      'container7',
      '--network',
      'isolated_nw',
      '--network-alias',
      'app',
      '--',
      'sleep',
      '600',
    ]);
    const ip6 = await ipOf(1, 'container6', 'isolated_nw');
    const ip7 = await ipOf(0, 'container7', 'isolated_nw');
    expect(await dig('container4', 'app')).toEqual([ip6, ip7].sort());
    const firsts = new Set<string>();
    for (let i = 0; i < 12 && firsts.size < 2; i++) {
      const out = await d(0).cliOk(['exec', 'container4', '--', 'dig', '+short', 'app']);
      firsts.add(out.trim().split('\n')[0] ?? '');
    }
    expect(firsts.size).toBe(2);
    await d(1).cliOk(['stop', '-t', '1', 'container6']);
    await eventually(async () => (await dig('container4', 'app')).join() === ip7, 'app → container7 only');
    await eventuallyPings('container4', 'app');
    expect(await status('container4', 'scoped-app')).toBe('NXDOMAIN');
  });

  it('5. after disconnecting container4 from isolated_nw, c5 no longer resolves but foo still does', async () => {
    await d(0).cliOk(['network', 'disconnect', 'isolated_nw', 'container4']);
    expect(await status('container4', 'c5')).toBe('NXDOMAIN');
    expect(await status('container4', 'container7')).toBe('NXDOMAIN');
    expect(await dig('container4', 'foo')).toEqual([await ipOf(0, 'container5', 'local_alias')]);
    await eventuallyPings('container4', 'foo');
    expect((await ping('container4', 'c5')).code).not.toBe(0);
  });

  it('6. rm cleans up: the container’s resolver and its namespace files are gone', async () => {
    const [c] = JSON.parse(await d(0).cliOk(['inspect', 'container7'])) as { Id: string }[];
    await d(0).cliOk(['rm', '-f', 'container7']);
    expect(await dig('container5', 'container7')).toEqual([]);
    const namespaces = (await cluster.hosts().exec(0, 'ip', ['netns', 'list'])).stdout;
    expect(namespaces).not.toContain(`c-${(c?.Id ?? '').slice(0, 12)}`);
  });

  it('7. a daemon killed and restarted gives its running containers their resolver back', async () => {
    await d(1).cliOk(['run', '-d', '--name', 'container8', '--network', 'local_alias', '--', 'sleep', '600']);
    const ip5 = await ipOf(0, 'container5', 'local_alias');
    const ask = async (): Promise<string> =>
      (await d(1).cliOk(['exec', 'container8', '--', 'dig', '+short', '+tries=1', '+time=1', 'container5'])).trim();
    await eventually(async () => (await ask()) === ip5, 'container8 resolves container5');
    const [c8] = JSON.parse(await d(1).cliOk(['inspect', 'container8'])) as {
      NetworkSettings: { SandboxKey: string };
    }[];
    const namespace = (c8?.NetworkSettings.SandboxKey ?? '').split('/').pop() ?? '';
    await d(1).kill('SIGKILL');
    // The sockets died with the daemon: nothing answers until it is back.
    const dead = await runCommand('ip', ['netns', 'exec', namespace, 'dig', '+tries=1', '+time=1', 'container5'], {
      check: false,
    });
    expect(dead.stdout).toMatch(/timed out|no servers/);
    await d(1).restart();
    await eventually(async () => (await ask()) === ip5, 'container8 resolves container5 after the restart');
  });
});
