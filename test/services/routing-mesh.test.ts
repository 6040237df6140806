/**
 * Services end to end on real daemons: 3 hosts run vxmeshd (host 0 manager), host 3 is a client
 * on the underlay only. Tasks run test/support/bin/task-http-server.mjs, which answers with its
 * eth0 address, so every answer says which task served it. Tests run in order on one cluster;
 * the last one kills a worker.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { useDaemonCluster } from '../support/daemon-cluster.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import type { Vxmeshd } from '../support/vxmeshd-harness.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SERVER = join(REPO_ROOT, 'test/support/bin/task-http-server.mjs');
const PROBE = join(REPO_ROOT, 'test/support/bin/http-probe.mjs');
const HOLD = join(REPO_ROOT, 'test/support/bin/http-hold.mjs');
const NODE = process.execPath;
const CLIENT_HOST = 3;

interface ProbeResult {
  readonly answers: Record<string, number>;
  readonly errors: number;
  readonly lastError: string;
}

interface InspectedService {
  readonly ID: string;
  readonly Endpoint: { readonly VirtualIPs?: readonly { readonly NetworkID: string; readonly Addr: string }[] };
}

interface InspectedNetwork {
  readonly Id: string;
  readonly Containers: Record<string, { readonly Name: string; readonly IPv4Address: string }>;
}

describe('services: VIP load balancing, routing mesh, host mode, rescheduling', () => {
  const cluster = useDaemonCluster({ hosts: 4, daemons: 3, attachableNetworks: ['appnet'] });
  const manager = (): Vxmeshd => cluster.daemon(0);
  const underlayIp = (i: number): string => cluster.hosts().host(i).underlayIp;

  /** HTTP GETs from the client host (outside the cluster), one new connection each. */
  const probeFromClient = async (urls: readonly string[], count: number): Promise<Record<string, ProbeResult>> => {
    const res = await cluster.hosts().exec(CLIENT_HOST, NODE, [PROBE, String(count), '2000', ...urls]);
    return JSON.parse(res.stdout) as Record<string, ProbeResult>;
  };

  /** Tasks of a service as `network inspect` lists them: task name → address (without prefix). */
  const taskAddresses = async (network: string, service: string): Promise<Map<string, string>> => {
    const [n] = JSON.parse(await manager().cliOk(['network', 'inspect', network])) as InspectedNetwork[];
    const out = new Map<string, string>();
    for (const c of Object.values(n?.Containers ?? {})) {
      if (c.Name.startsWith(`${service}.`)) {
        out.set(c.Name, c.IPv4Address.split('/')[0] ?? '');
      }
    }
    return out;
  };

  /** Names of the running containers on a daemon (`vxmesh ps --format json`). */
  const containerNames = async (daemon: Vxmeshd): Promise<string[]> =>
    (await daemon.cliOk(['ps', '--format', 'json']))
      .split('\n')
      .filter((l) => l.trim() !== '')
      .map((l) => (JSON.parse(l) as { Names: string }).Names);

  /** The daemon and container name of one running task of `service` (found through `vxmesh ps` on each host). */
  const findTaskContainer = async (service: string): Promise<{ daemon: Vxmeshd; name: string }> => {
    for (let i = 0; i < 3; i++) {
      const name = (await containerNames(cluster.daemon(i))).find((n) => n.startsWith(`${service}.`));
      if (name) {
        return { daemon: cluster.daemon(i), name };
      }
    }
    throw new Error(`no running task of ${service} on any host`);
  };

  const distinctAnswers = (r: ProbeResult | undefined): number => Object.keys(r?.answers ?? {}).length;

  it('a 3-replica service published on 8080 answers on every node, each replica at least 10 of 60 times', async () => {
    const out = await manager().cliOk(
      ['service', 'create', '--name', 'web', '--replicas', '3', '--network', 'appnet', '--publish', 'published=8080,target=80', '--', NODE, SERVER, '80'],
      { timeoutMs: 60_000 },
    );
    expect(out).toMatch(/converged/);
    const tasks = await waitFor(async () => {
      const t = await taskAddresses('appnet', 'web');
      return t.size === 3 ? t : undefined;
    }, 20_000, { what: '3 task endpoints' });
    const urls = [0, 1, 2].map((i) => `http://${underlayIp(i)}:8080/`);
    const results = await waitFor(async () => {
      const r = await probeFromClient(urls, 60);
      return urls.every((u) => r[u]?.errors === 0 && distinctAnswers(r[u]) === 3) ? r : undefined;
    }, 20_000, { what: 'every node to spread over the 3 tasks' });
    const taskIps = new Set(tasks.values());
    for (const url of urls) {
      const answers = results[url]?.answers ?? {};
      for (const [ip, count] of Object.entries(answers)) {
        // The server answers with its eth0 address: the task's address on appnet.
        expect(taskIps.has(ip), `${ip} is a task of web`).toBe(true);
        expect(count, `${url}: ${ip} answered ${count} of 60`).toBeGreaterThanOrEqual(10);
      }
    }
  });

  it('another service reaches web by name and by VIP, and tasks.web lists every task', async () => {
    await manager().cliOk(
      ['service', 'create', '--name', 'client', '--network', 'appnet', '--', NODE, '-e', 'setInterval(() => {}, 1e9)'],
      { timeoutMs: 60_000 },
    );
    const [web] = JSON.parse(await manager().cliOk(['service', 'inspect', 'web'])) as InspectedService[];
    const [appnet] = JSON.parse(await manager().cliOk(['network', 'inspect', 'appnet'])) as InspectedNetwork[];
    const vip = web?.Endpoint.VirtualIPs?.find((v) => v.NetworkID === appnet?.Id)?.Addr.split('/')[0];
    expect(vip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const { daemon, name } = await findTaskContainer('client');
    const probe = async (url: string): Promise<ProbeResult> => {
      const res = await daemon.cliOk(['exec', name, NODE, PROBE, '30', '2000', url]);
      return (JSON.parse(res) as Record<string, ProbeResult>)[url] as ProbeResult;
    };
    for (const url of ['http://web/', `http://${vip}/`]) {
      const r = await probe(url);
      expect(r.errors, `${url}: ${r.lastError}`).toBe(0);
      expect(distinctAnswers(r), `${url} spreads over the tasks`).toBe(3);
    }
    const resolved = await daemon.cliOk([
      'exec',
      name,
      NODE,
      '-e',
      "require('node:dns').promises.resolve4('tasks.web').then((a) => console.log(JSON.stringify(a.sort())))",
    ]);
    const expected = [...(await taskAddresses('appnet', 'web')).values()].sort();
    expect(JSON.parse(resolved)).toEqual(expected);
  });

  it('scaling to 5 and back to 1 is followed by the routing within 2 s; a long-lived connection survives a scale-up', async () => {
    const { daemon, name } = await findTaskContainer('client');
    // One keep-alive connection through the VIP, a request every 300 ms while the service grows.
    const hold = daemon.cliOk(['exec', name, NODE, HOLD, 'http://web/', '300', '30'], { timeoutMs: 30_000 });
    await manager().cliOk(['service', 'scale', 'web=5'], { timeoutMs: 60_000 });
    const scaledAt = Date.now();
    await waitFor(async () => distinctAnswers((await probeFromClient([`http://${underlayIp(1)}:8080/`], 60))[`http://${underlayIp(1)}:8080/`]) === 5, 10_000, {
      what: '5 tasks answering',
      intervalMs: 100,
    });
    const up = Date.now() - scaledAt;
    const held = JSON.parse(await hold) as { answers: string[]; errors: string[]; sockets: number };
    expect(held.errors).toEqual([]);
    expect(held.sockets).toBe(1);
    expect(new Set(held.answers).size, 'the held connection kept its task').toBe(1);

    await manager().cliOk(['service', 'scale', 'web=1'], { timeoutMs: 60_000 });
    const downAt = Date.now();
    await waitFor(async () => {
      const r = (await probeFromClient([`http://${underlayIp(2)}:8080/`], 20))[`http://${underlayIp(2)}:8080/`];
      return r?.errors === 0 && distinctAnswers(r) === 1;
    }, 10_000, { what: 'a single task answering', intervalMs: 100 });
    const down = Date.now() - downAt;
    console.info(`routing followed scale-up in ${up} ms and scale-down in ${down} ms`);
    expect(up).toBeLessThan(2000);
    expect(down).toBeLessThan(2000);
  });

  it('--network-add and --network-rm move the tasks', async () => {
    await manager().cliOk(['network', 'create', '-d', 'overlay', 'extranet']);
    await manager().cliOk(['service', 'update', '--network-add', 'extranet', 'web'], { timeoutMs: 60_000 });
    await waitFor(async () => ((await taskAddresses('extranet', 'web')).size === 1 ? true : undefined), 20_000, {
      what: 'web task on extranet',
    });
    await manager().cliOk(['service', 'update', '--network-rm', 'extranet', 'web'], { timeoutMs: 60_000 });
    await waitFor(async () => ((await taskAddresses('extranet', 'web')).size === 0 ? true : undefined), 20_000, {
      what: 'no web task on extranet',
    });
    await manager().cliOk(['network', 'rm', 'extranet']);
  });

  it('a host-mode port answers only where a task runs', async () => {
    await manager().cliOk(
      ['service', 'create', '--name', 'hostsvc', '--publish', 'published=9090,target=80,mode=host', '--network', 'appnet', '--', NODE, SERVER, '80'],
      { timeoutMs: 60_000 },
    );
    const { daemon, name } = await findTaskContainer('hostsvc');
    const urls = [0, 1, 2].map((i) => `http://${underlayIp(i)}:9090/`);
    let lastProbe: Record<string, ProbeResult> | undefined;
    const r = await waitFor(async () => {
      const res = await probeFromClient(urls, 3);
      lastProbe = res;
      // Answered at all, not answered every time: under CI load the task's Node server sometimes
      // misses the probe's 2 s timeout (seen with everything in place: DNAT, addresses, routes).
      // Any answer from a node without the task still fails the check.
      return urls.filter((u) => distinctAnswers(res[u]) > 0).length === 1 ? res : undefined;
    }, 20_000, { what: 'exactly one node answering on 9090' }).catch(async (err: unknown) => {
      // Say what the nodes answered last, where the task runs and what that host's kernel holds,
      // so a failure can be read (it timed out twice under CI load, never on a quiet machine).
      const kernel = await cluster
        .hosts()
        .exec(daemon.host, 'sh', ['-c', 'nft list table ip vxmesh_publish; ip -4 addr; ip -4 route; ip -4 neigh; conntrack -L -p tcp --dport 9090 2>&1 | tail -5'], { check: false })
        .then((r) => `${r.stdout}${r.stderr}`)
        .catch((e: unknown) => String(e));
      const task = await daemon
        .cli(['exec', name, 'sh', '-c', 'ip -4 addr; ip -4 route'])
        .then((r) => r.stdout)
        .catch((e: unknown) => String(e));
      throw new Error(
        `${String(err)}; task on ${daemon.host.underlayIp}; last probe ${JSON.stringify(lastProbe)}\n--- host ---\n${kernel}\n--- task ---\n${task}`,
      );
    });
    const answering = urls.find((u) => distinctAnswers(r[u]) > 0);
    expect(answering).toBe(`http://${daemon.host.underlayIp}:9090/`);
    await manager().cliOk(['service', 'rm', 'hostsvc']);
  });

  it('a service whose subnet is exhausted shows the allocation error in service ps', async () => {
    await manager().cliOk(['network', 'create', '-d', 'overlay', '--subnet', '10.99.0.0/29', 'tinynet']);
    await manager().cliOk(['service', 'create', '--detach', '--name', 'big', '--replicas', '8', '--network', 'tinynet', '--', NODE, SERVER, '80']);
    const ps = await waitFor(async () => {
      const out = await manager().cliOk(['service', 'ps', '--no-trunc', 'big']);
      return /tinynet/.test(out) && /(no (available|free)|exhausted)/i.test(out) ? out : undefined;
    }, 20_000, { what: 'an allocation error naming tinynet in service ps' });
    expect(ps).toMatch(/Pending/i);
    await manager().cliOk(['service', 'rm', 'big']);
  });

  it('when a worker dies its tasks are rescheduled and the published port answers again within 30 s', async () => {
    await manager().cliOk(['service', 'scale', 'web=3'], { timeoutMs: 60_000 });
    const { daemon } = await findTaskContainer('web').then(async (first) => {
      // A worker (not the manager) that runs a web task.
      for (const i of [1, 2]) {
        if ((await containerNames(cluster.daemon(i))).some((n) => n.startsWith('web.'))) {
          return { daemon: cluster.daemon(i) };
        }
      }
      return first;
    });
    expect(daemon).not.toBe(manager());
    const killedAt = Date.now();
    await daemon.kill('SIGKILL');
    await cluster.hosts().setUnderlayLink(daemon.host, 'down');
    const url = `http://${underlayIp(0)}:8080/`;
    await waitFor(async () => {
      const r = (await probeFromClient([url], 30))[url];
      return r?.errors === 0 && distinctAnswers(r) === 3 ? true : undefined;
    }, 45_000, { what: '3 tasks answering after the worker died', intervalMs: 500 });
    const recovered = Date.now() - killedAt;
    console.info(`published port served by 3 tasks again ${recovered} ms after the worker died`);
    expect(recovered).toBeLessThan(30_000);
  });
});
