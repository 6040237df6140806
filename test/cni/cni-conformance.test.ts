import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { runCommand } from '../support/command.js';
import { useDaemonCluster } from '../support/daemon-cluster.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import { addressesIn, createNetns, deleteNetns, invokeCni, pluginConfig } from './cni-support.js';
import type { CniReply } from './cni-support.js';

/**
 * The plugin binary run as a runtime runs it (environment + stdin), against two real daemons in
 * host namespaces: ADD/DEL/CHECK/GC/STATUS/VERSION, the CNI spec's behaviours (ADD twice, DEL
 * after a failed ADD, DEL twice, CHECK catching a removed address), error codes, and traffic
 * and names between a CNI namespace and `vxmesh run` containers across hosts.
 */
describe('vxmesh-cni conformance (binary, 2 daemons)', () => {
  const cluster = useDaemonCluster({ hosts: 2, daemons: 2, attachableNetworks: ['test-net'] });
  const cleanups: (() => Promise<unknown>)[] = [];
  let seq = 0;

  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) {
      await c().catch(() => undefined);
    }
  });

  const socket = (i: number): string => cluster.daemon(i).socketPath;
  /** A fresh "container": a named namespace, deleted (after a DEL) when the test ends. */
  const container = async (i = 0): Promise<{ id: string; netns: string; name: string; path: string }> => {
    seq++;
    const name = `${cluster.hosts().prefix}ctr${seq}`;
    const id = `c0ffee${seq}${'0'.repeat(58)}`.slice(0, 64);
    const path = await createNetns(name);
    cleanups.push(() => deleteNetns(name));
    cleanups.push(() => invokeCni({ command: 'DEL', containerId: id, netns: path, config: pluginConfig(socket(i)) }));
    return { id, netns: name, name, path };
  };
  const ok = (reply: CniReply): Record<string, unknown> => {
    expect(reply.code, `${reply.stdout}${reply.stderr}`).toBe(0);
    return reply.json ?? {};
  };
  const cniError = (reply: CniReply): { code: number; msg: string } => {
    expect(reply.code).not.toBe(0);
    expect(reply.json).toMatchObject({
      cniVersion: expect.any(String) as string,
      code: expect.any(Number) as number,
      msg: expect.any(String) as string,
    });
    return reply.json as { code: number; msg: string };
  };
  const inNs = (netns: string, cmd: string[]) => runCommand('ip', ['netns', 'exec', netns, ...cmd], { check: false });

  it('ADD attaches across hosts with DNS both ways; ADD twice is idempotent; CHECK, DEL, DEL again', async () => {
    await cluster.daemon(1).cliOk(['run', '-d', '--name', 'alpine2', '--network', 'test-net', '--', 'sleep', '600']);
    const alpine2 = await cluster.ipOf(1, 'alpine2', 'test-net');
    const c = await container();
    const config = pluginConfig(socket(0), { runtimeConfig: { aliases: { 'test-net': ['web', 'cni-alias'] } } });
    const add = await invokeCni({
      command: 'ADD',
      containerId: c.id,
      netns: c.path,
      args: 'IgnoreUnknown=1;K8S_POD_NAME=cni1',
      config,
    });
    const result = ok(add);
    console.log(`ADD took ${add.ms} ms`);
    expect(result).toMatchObject({
      cniVersion: '1.0.0',
      interfaces: [{ name: 'eth0', mac: expect.stringMatching(/^02:42:/) as string, sandbox: c.path }],
      ips: [
        {
          address: expect.stringMatching(/^\d+\.\d+\.\d+\.\d+\/\d+$/) as string,
          gateway: expect.any(String) as string,
          interface: 0,
        },
      ],
      dns: { nameservers: ['127.0.0.11'], options: ['ndots:0'] },
    });
    const [ip] = result['ips'] as { address: string }[];
    expect(await addressesIn(c.netns, 'eth0')).toEqual([ip?.address]);

    // Across hosts, by address and by name both ways.
    await waitFor(async () => (await inNs(c.netns, ['ping', '-c', '1', '-W', '1', alpine2])).exitCode === 0, 20_000, {
      what: 'the CNI namespace pings alpine2 on host1',
    });
    await waitFor(
      async () =>
        (await inNs(c.netns, ['dig', '+short', '+tries=1', '+time=1', '@127.0.0.11', 'alpine2'])).stdout.trim() ===
        alpine2,
      15_000,
      { what: 'the resolver in the CNI namespace answers alpine2' },
    );
    for (const name of ['cni1', 'web']) {
      await waitFor(
        async () =>
          (await cluster.daemon(1).cli(['exec', 'alpine2', '--', 'ping', '-c', '1', '-W', '1', name])).code === 0,
        20_000,
        { what: `alpine2 pings ${name}` },
      );
    }

    // ADD again for the same container and interface: the same result, nothing new allocated.
    const again = await invokeCni({
      command: 'ADD',
      containerId: c.id,
      netns: c.path,
      args: 'IgnoreUnknown=1;K8S_POD_NAME=cni1',
      config,
    });
    expect(ok(again)).toEqual(result);
    console.log(`ADD again took ${again.ms} ms`);
    const inspect = JSON.parse(await cluster.daemon(0).cliOk(['network', 'inspect', 'test-net'])) as {
      Containers: Record<string, { Name: string }>;
    }[];
    expect(Object.values(inspect[0]?.Containers ?? {}).filter((e) => e.Name === 'cni1')).toHaveLength(1);

    const check = await invokeCni({
      command: 'CHECK',
      containerId: c.id,
      netns: c.path,
      config: { ...config, prevResult: result },
    });
    ok(check);
    console.log(`CHECK took ${check.ms} ms`);

    const del = await invokeCni({
      command: 'DEL',
      containerId: c.id,
      netns: c.path,
      config: { ...config, prevResult: result },
    });
    ok(del);
    console.log(`DEL took ${del.ms} ms`);
    expect(await addressesIn(c.netns, 'eth0')).toEqual([]);
    expect(existsSync(`/etc/netns/${c.netns}`)).toBe(false);
    ok(await invokeCni({ command: 'DEL', containerId: c.id, netns: c.path, config }));
    ok(await invokeCni({ command: 'DEL', containerId: c.id, config })); // without CNI_NETNS (it may be gone)
    expect(
      cniError(
        await invokeCni({
          command: 'CHECK',
          containerId: c.id,
          netns: c.path,
          config: { ...config, prevResult: result },
        }),
      ).code,
    ).toBe(3);
    await waitFor(
      async () =>
        (await cluster.daemon(1).cli(['exec', 'alpine2', '--', 'ping', '-c', '1', '-W', '1', 'cni1'])).code !== 0,
      15_000,
      { what: 'cni1 stops resolving on host1' },
    );
    await cluster.daemon(1).cliOk(['rm', '-f', 'alpine2']);
  });

  it('CHECK catches a removed address and a different namespace; a 0.4.0 config gets a 0.4.0 result', async () => {
    const c = await container(1);
    const config = pluginConfig(socket(1), { cniVersion: '0.4.0' });
    const result = ok(await invokeCni({ command: 'ADD', containerId: c.id, netns: c.path, config }));
    expect(result).toMatchObject({ cniVersion: '0.4.0', ips: [{ version: '4', interface: 0 }] });
    const [ip] = result['ips'] as { address: string }[];
    ok(
      await invokeCni({
        command: 'CHECK',
        containerId: c.id,
        netns: c.path,
        config: { ...config, prevResult: result },
      }),
    );

    const other = await container(1);
    const wrongNs = cniError(
      await invokeCni({
        command: 'CHECK',
        containerId: c.id,
        netns: other.path,
        config: { ...config, prevResult: result },
      }),
    );
    expect(wrongNs.code).toBe(102);

    await runCommand('ip', ['-n', c.netns, 'addr', 'del', ip?.address ?? '', 'dev', 'eth0']);
    const removed = cniError(
      await invokeCni({
        command: 'CHECK',
        containerId: c.id,
        netns: c.path,
        config: { ...config, prevResult: result },
      }),
    );
    expect(removed).toMatchObject({ code: 102, msg: expect.stringContaining(ip?.address ?? '?') as string });

    // A CHECK in a version without CHECK, and without prevResult.
    expect(
      cniError(
        await invokeCni({
          command: 'CHECK',
          containerId: c.id,
          netns: c.path,
          config: { ...config, cniVersion: '0.3.1', prevResult: result },
        }),
      ).code,
    ).toBe(1);
    expect(cniError(await invokeCni({ command: 'CHECK', containerId: c.id, netns: c.path, config })).code).toBe(7);
    ok(await invokeCni({ command: 'DEL', containerId: c.id, netns: c.path, config }));
  });

  it('a failed ADD leaves nothing behind and DEL after it succeeds; errors carry CNI codes', async () => {
    const c = await container();
    const config = pluginConfig(socket(0));
    // Unknown network: invalid configuration.
    expect(
      cniError(
        await invokeCni({ command: 'ADD', containerId: c.id, netns: c.path, config: { ...config, network: 'nope' } }),
      ).code,
    ).toBe(7);
    ok(await invokeCni({ command: 'DEL', containerId: c.id, netns: c.path, config: { ...config, network: 'nope' } }));
    // A static address outside the network, then one taken by another container.
    expect(
      cniError(await invokeCni({ command: 'ADD', containerId: c.id, netns: c.path, args: 'IP=192.0.2.1', config }))
        .code,
    ).toBe(7);
    ok(await invokeCni({ command: 'DEL', containerId: c.id, netns: c.path, config }));
    const first = ok(await invokeCni({ command: 'ADD', containerId: c.id, netns: c.path, config }));
    const taken = ((first['ips'] as { address: string }[])[0]?.address ?? '').split('/')[0] ?? '';
    const d = await container();
    const clash = cniError(
      await invokeCni({ command: 'ADD', containerId: d.id, netns: d.path, args: `IP=${taken}`, config }),
    );
    expect([7, 100, 101]).toContain(clash.code);
    expect(await addressesIn(d.netns, 'eth0')).toEqual([]);
    ok(await invokeCni({ command: 'DEL', containerId: d.id, netns: d.path, config }));
    // The interface name is taken in the namespace by something vxmesh does not own.
    const e = await container();
    await runCommand('ip', ['-n', e.netns, 'link', 'add', 'eth0', 'type', 'veth', 'peer', 'name', 'eth0p']);
    expect(cniError(await invokeCni({ command: 'ADD', containerId: e.id, netns: e.path, config })).code).toBe(100);
    ok(await invokeCni({ command: 'DEL', containerId: e.id, netns: e.path, config }));
    expect(await runCommand('ip', ['-n', e.netns, 'link', 'show', 'eth0'], { check: false })).toMatchObject({
      exitCode: 0,
    });
    // A namespace that does not exist.
    expect(
      cniError(await invokeCni({ command: 'ADD', containerId: e.id, netns: '/run/netns/vxt-no-such-ns', config })).code,
    ).toBe(3);
    ok(await invokeCni({ command: 'DEL', containerId: c.id, netns: c.path, config }));
    const inspect = JSON.parse(await cluster.daemon(0).cliOk(['network', 'inspect', 'test-net'])) as {
      Containers: Record<string, unknown>;
    }[];
    expect(Object.keys(inspect[0]?.Containers ?? {})).toEqual([]);

    // Environment and input errors, before any daemon is asked.
    expect(cniError(await invokeCni({ command: 'ADD', config, env: { PATH: '/usr/bin:/bin' } })).code).toBe(4);
    expect(cniError(await invokeCni({ command: 'ADD', containerId: '-bad', netns: c.path, config })).code).toBe(4);
    expect(cniError(await invokeCni({ command: 'ADD', containerId: c.id, config })).code).toBe(4);
    expect(
      cniError(await invokeCni({ command: 'ADD', containerId: c.id, netns: c.path, config: '{not json' })).code,
    ).toBe(6);
    expect(
      cniError(
        await invokeCni({
          command: 'ADD',
          containerId: c.id,
          netns: c.path,
          config: { ...config, cniVersion: '9.9.9' },
        }),
      ).code,
    ).toBe(1);
    expect(
      cniError(await invokeCni({ command: 'ADD', containerId: c.id, netns: c.path, args: 'FOO=1', config })).code,
    ).toBe(2);
    const unreachable = cniError(
      await invokeCni({
        command: 'ADD',
        containerId: c.id,
        netns: c.path,
        config: { ...config, socket: '/run/vxt-none.sock' },
      }),
    );
    expect(unreachable.code).toBe(11);
    expect(
      cniError(
        await invokeCni({ command: 'DEL', containerId: c.id, config: { ...config, socket: '/run/vxt-none.sock' } }),
      ).code,
    ).toBe(11);
  });

  it('a namespace outside /run/netns is bind-mounted for the attachment and unmounted by DEL', async () => {
    // A process in a namespace of its own, known only as /proc/PID/ns/net (as some runtimes pass it).
    const holder = spawn('unshare', ['--net', 'sleep', '120'], { stdio: 'ignore' });
    cleanups.push(() => Promise.resolve(holder.kill('SIGKILL')));
    const pid = holder.pid ?? 0;
    await waitFor(
      async () =>
        (await runCommand('readlink', [`/proc/${pid}/ns/net`])).stdout !==
        (await runCommand('readlink', ['/proc/self/ns/net'])).stdout,
      5000,
      {
        what: 'unshare entered its namespace',
      },
    );
    const path = `/proc/${pid}/ns/net`;
    const id = `abcdef${Date.now()}`;
    const config = pluginConfig(socket(0), { embeddedDns: false });
    cleanups.push(() => invokeCni({ command: 'DEL', containerId: id, netns: path, config }));
    const before = new Set(await readdir('/run/netns'));
    const result = ok(await invokeCni({ command: 'ADD', containerId: id, netns: path, config }));
    expect(result['dns']).toEqual({});
    // New names under /run/netns: the bind (and the overlay namespace, if this is the node's first endpoint).
    const bound = (await readdir('/run/netns')).filter((n) => !before.has(n) && n.includes('-x-'));
    expect(bound).toHaveLength(1);
    expect(bound[0]).toMatch(new RegExp(`^${cluster.daemon(0).host.netns}-x-`));
    const [ip] = result['ips'] as { address: string }[];
    expect((await runCommand('nsenter', [`--net=${path}`, 'ip', '-j', 'addr', 'show', 'eth0'])).stdout).toContain(
      ip?.address.split('/')[0],
    );
    ok(await invokeCni({ command: 'DEL', containerId: id, netns: path, config }));
    expect((await readdir('/run/netns')).filter((n) => !before.has(n) && n.includes('-x-'))).toEqual([]);
  });

  it('an attachment survives a daemon restart: CHECK passes, the resolver answers again, DEL works', async () => {
    const c = await container(1);
    const config = pluginConfig(socket(1));
    const result = ok(
      await invokeCni({ command: 'ADD', containerId: c.id, netns: c.path, args: 'K8S_POD_NAME=survivor', config }),
    );
    await cluster.daemon(1).restart();
    ok(
      await invokeCni({
        command: 'CHECK',
        containerId: c.id,
        netns: c.path,
        config: { ...config, prevResult: result },
      }),
    );
    await waitFor(
      async () =>
        (await inNs(c.netns, ['dig', '+short', '+tries=1', '+time=1', '@127.0.0.11', 'survivor'])).stdout.trim() !== '',
      15_000,
      { what: 'the restarted daemon serves the resolver again' },
    );
    ok(await invokeCni({ command: 'DEL', containerId: c.id, netns: c.path, config }));
    expect(await addressesIn(c.netns, 'eth0')).toEqual([]);
  });

  it('GC releases what the runtime no longer lists; STATUS and VERSION answer', async () => {
    const a = await container();
    const b = await container();
    const config = pluginConfig(socket(0), { cniVersion: '1.1.0' });
    ok(await invokeCni({ command: 'ADD', containerId: a.id, netns: a.path, config }));
    ok(await invokeCni({ command: 'ADD', containerId: b.id, netns: b.path, config }));
    ok(
      await invokeCni({
        command: 'GC',
        config: { ...config, 'cni.dev/valid-attachments': [{ containerID: a.id, ifname: 'eth0' }] },
      }),
    );
    expect(await addressesIn(a.netns, 'eth0')).toHaveLength(1);
    expect(await addressesIn(b.netns, 'eth0')).toEqual([]);
    ok(await invokeCni({ command: 'STATUS', config }));
    expect(
      cniError(await invokeCni({ command: 'STATUS', config: { ...config, socket: '/run/vxt-none.sock' } })).code,
    ).toBe(51);
    const version = ok(await invokeCni({ command: 'VERSION', config: { cniVersion: '1.0.0' } }));
    expect(version).toEqual({ cniVersion: '1.0.0', supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] });
    ok(await invokeCni({ command: 'DEL', containerId: a.id, netns: a.path, config }));
  });
});
