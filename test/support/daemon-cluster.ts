import { afterAll, beforeAll, beforeEach } from 'vitest';
import { createTestHosts } from './test-hosts.js';
import type { TestHosts } from './test-hosts.js';
import { destroyAll, logTails, startVxmeshds } from './vxmeshd-harness.js';
import type { Vxmeshd } from './vxmeshd-harness.js';

export interface DaemonClusterOptions {
  /** Host namespaces on the underlay; host i is 198.51.100.(10+i). Hosts past `daemons` run nothing. */
  readonly hosts: number;
  /** How many of them (from host 0) run vxmeshd; host 0 inits, the others join as workers. */
  readonly daemons: number;
  /** Attachable overlays created on host 0 once the cluster is formed. */
  readonly attachableNetworks?: readonly string[];
}

/** Accessors for a cluster formed by {@link useDaemonCluster}, valid inside tests. */
export interface DaemonCluster {
  hosts(): TestHosts;
  daemon(index: number): Vxmeshd;
  /** `vxmesh inspect NAME` on host `index`: the container's address on `network`. */
  ipOf(index: number, name: string, network: string): Promise<string>;
}

/**
 * Registers the describe block's hooks for a cluster of real daemons in host namespaces: before
 * all tests, hosts + daemons + `swarm init` on host 0 + the printed join on the others + the
 * networks; after all, everything removed; on a failed test, every daemon's log tail printed.
 */
export function useDaemonCluster(opts: DaemonClusterOptions): DaemonCluster {
  let hosts: TestHosts | undefined;
  const daemons: Vxmeshd[] = [];
  const daemon = (index: number): Vxmeshd => {
    const d = daemons[index];
    if (!d) {
      throw new Error(`no daemon on host ${index}`);
    }
    return d;
  };

  beforeAll(async () => {
    hosts = await createTestHosts({ count: opts.hosts });
    daemons.push(
      ...(await startVxmeshds(
        hosts,
        Array.from({ length: opts.daemons }, (_, i) => i),
      )),
    );
    const init = await daemon(0).cliOk(['swarm', 'init', '--advertise-addr', hosts.host(0).underlayIp]);
    const join = /vxmesh (swarm join --token \S+ \S+)/.exec(init)?.[1]?.split(' ') ?? [];
    for (let i = 1; i < opts.daemons; i++) {
      await daemon(i).cliOk(join);
    }
    for (const name of opts.attachableNetworks ?? []) {
      await daemon(0).cliOk(['network', 'create', '-d', 'overlay', '--attachable', name]);
    }
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

  return {
    hosts: () => {
      if (!hosts) {
        throw new Error('the cluster is not up (use it inside tests)');
      }
      return hosts;
    },
    daemon,
    ipOf: async (index, name, network) => {
      const [c] = JSON.parse(await daemon(index).cliOk(['inspect', name])) as {
        NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
      }[];
      return c?.NetworkSettings.Networks[network]?.IPAddress ?? '';
    },
  };
}
