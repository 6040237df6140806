import { spawn } from 'node:child_process';
import { open, readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { kernelSnapshot } from '../support/kernel-snapshot.js';
import { useDaemonCluster } from '../support/daemon-cluster.js';
import { waitFor } from '../support/vxmeshd-harness.js';
import type { Vxmeshd } from '../support/vxmeshd-harness.js';

const ROUNDS = 20;

/**
 * kill -9 of a worker's daemon at random moments while it reconciles (another host keeps adding
 * and removing containers on the shared overlay), with a ping running across hosts the whole time.
 * After every restart the kernel must converge to the state the managers describe, with no
 * "file exists" failure; at the end it must equal what a clean rebuild produces; the ping loss
 * over the whole run is reported and bounded.
 */
describe('kill -9 of the agent in a loop while traffic flows', () => {
  const cluster = useDaemonCluster({ hosts: 3, daemons: 3, attachableNetworks: ['test-net'] });
  const d = (i: number): Vxmeshd => cluster.daemon(i);
  const ipOf = (i: number, name: string): Promise<string> => cluster.ipOf(i, name, 'test-net');

  it(
    `survives ${ROUNDS} kills mid-reconcile without disturbing traffic, and ends where a clean run would`,
    { timeout: 240_000 },
    async () => {
      const victim = d(1);
      const victimNetns = victim.host.netns;
      const prefix = `${victimNetns}-`;
      await d(0).cliOk(['run', '-d', '--name', 'client', '--network', 'test-net', '--', 'sleep', '3600']);
      await victim.cliOk(['run', '-d', '--name', 'server', '--network', 'test-net', '--', 'sleep', '3600']);
      const serverIp = await ipOf(1, 'server');
      await waitFor(
        async () => (await d(0).cli(['exec', 'client', '--', 'ping', '-c', '1', '-W', '1', serverIp])).code === 0,
        10_000,
        {
          what: 'first ping',
        },
      );
      // A ping every 50 ms for the whole test, into a file of the test's own.
      const pingLog = `${victim.dir}/ping.log`;
      const [client] = JSON.parse(await d(0).cliOk(['inspect', 'client'])) as {
        NetworkSettings: { SandboxKey: string };
      }[];
      const clientNetns = (client?.NetworkSettings.SandboxKey ?? '').replace('/run/netns/', '');
      const out = await open(pingLog, 'w');
      const pinger = spawn('ip', ['netns', 'exec', clientNetns, 'ping', '-i', '0.05', '-W', '1', serverIp], {
        stdio: ['ignore', out.fd, out.fd],
      });
      await out.close();

      const snapshot = (): Promise<string[]> => kernelSnapshot(prefix, victimNetns);
      // Only test-net's FDB counts: the victim also serves the ingress overlay (every node's
      // routing-mesh endpoint), whose entries do not churn here.
      const [testNet] = JSON.parse(await d(0).cliOk(['network', 'inspect', 'test-net'])) as { Id: string }[];
      const testNetLabel = `o-${(testNet?.Id ?? '').slice(0, 12)} `;
      /** Converged: the victim holds every endpoint the churn left, and two snapshots agree. */
      const converged = async (expectedPeers: number): Promise<string[]> =>
        waitFor(
          async () => {
            const a = await snapshot();
            const fdb = a.filter((l) => l.startsWith(testNetLabel) && l.includes(' fdb ')).length;
            if (fdb !== expectedPeers) {
              return false;
            }
            const b = await snapshot();
            return JSON.stringify(a) === JSON.stringify(b) ? a : false;
          },
          15_000,
          { what: `victim converged with ${expectedPeers} remote endpoints` },
        );

      let churn = 0;
      for (let round = 0; round < ROUNDS; round++) {
        // Host 2 adds or removes a container on the overlay: the victim has FDB/neighbour work to do.
        if (round % 2 === 0) {
          await d(2).cliOk(['run', '-d', '--name', `churn${round}`, '--network', 'test-net', '--', 'sleep', '3600']);
          churn++;
        } else {
          await d(2).cliOk(['rm', '-f', `churn${round - 1}`]);
          churn--;
        }
        await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 250)));
        await victim.kill('SIGKILL');
        await victim.restart();
        // Remote endpoints on the victim: the client on host 0 plus host 2's churn containers.
        await converged(1 + churn);
      }

      const log = await readFile(victim.logPath, 'utf8');
      expect(log).not.toMatch(/File exists|EEXIST/);

      pinger.kill('SIGINT');
      await new Promise((r) => setTimeout(r, 300));
      const pings = await readFile(pingLog, 'utf8');
      const sent = /(\d+) packets transmitted/.exec(pings)?.[1];
      const received = /(\d+) received/.exec(pings)?.[1];
      const lossPct = sent && received ? (100 * (Number(sent) - Number(received))) / Number(sent) : NaN;
      console.log(`agent-crash: ${ROUNDS} kills; ping ${received}/${sent} received, loss ${lossPct.toFixed(2)} %`);
      // The kernel keeps forwarding while the agent is dead; measured here: about 1 % (8 of 800
      // pings over 20 kills, some of it the packet in flight when ping stops). Bounded, not zero.
      expect(lossPct).toBeLessThan(3);

      // Equal to a clean run: stop the daemon, remove its overlay namespace, let it rebuild.
      const before = await snapshot();
      await victim.stop();
      for (const ns of before.filter((l) => l.includes(' link br0 ')).map((l) => l.split(' ')[0] ?? '')) {
        await cluster.hosts().exec(1, 'ip', ['netns', 'del', `${prefix}${ns}`], { check: false });
      }
      await victim.restart();
      const rebuilt = await converged(1 + churn);
      expect(rebuilt).toEqual(before);
    },
  );
});
