/**
 * The fault suite's workload: network creates, container runs and removals, and service
 * scaling, issued through the real CLI against whichever daemons are up, one at a time. Every
 * operation is recorded with its outcome. An acknowledged one (the CLI exited 0) must be
 * reflected in the end state; a failed one may or may not have happened (a timeout, a lost
 * answer), so it is only "uncertain" and the end checks accept either outcome for it.
 */
import type { FaultCluster } from './fault-cluster.js';
import { MANAGERS, WORKERS } from './fault-cluster.js';


export interface OpRecord {
  readonly at: number;
  readonly op: string;
  readonly via: number;
  readonly ok: boolean;
  /** stdout when ok, the error line otherwise. */
  readonly detail: string;
  /** The first `WARNING:` line on stderr of an acknowledged operation ('' if none), e.g. rm's pending detach. */
  readonly warning: string;
}

export interface ContainerRecord {
  readonly name: string;
  readonly host: number;
  readonly network: string;
  /** run acknowledged and no acknowledged removal since. */
  state: 'running' | 'removed' | 'uncertain';
  /** Created before any fault and never removed: the dataplane checks during faults use them. */
  readonly pinned: boolean;
}

/** The service every run starts with; its tasks only go to workers. */
export const SERVICE = 'web';
/** The network every run starts with (attachable, so containers use it too). */
export const BASE_NETWORK = 'fbase';

export class Workload {
  readonly #cluster: FaultCluster;
  readonly #random: () => number;
  readonly ops: OpRecord[] = [];
  /** Acknowledged network creates: name → ID. */
  readonly networks = new Map<string, string>();
  /** Network creates that failed (may exist). */
  readonly uncertainNetworks = new Set<string>();
  readonly containers = new Map<string, ContainerRecord>();
  /** Replica counts the service may have now: the last acknowledged one plus failed attempts since. */
  replicas: { acked: number; uncertain: Set<number> } = { acked: 3, uncertain: new Set() };
  /** Daemons the fault driver has not taken down; operations go only to these. */
  readonly live = new Set<number>([...MANAGERS, ...WORKERS]);
  #seq = 0;

  constructor(cluster: FaultCluster, random: () => number) {
    this.#cluster = cluster;
    this.#random = random;
  }

  #pick<T>(items: readonly T[]): T | undefined {
    return items[Math.floor(this.#random() * items.length)];
  }

  #liveManagers(): number[] {
    return MANAGERS.filter((m) => this.live.has(m));
  }

  async #run(op: string, via: number, args: readonly string[], timeoutMs = 20_000): Promise<OpRecord> {
    const res = await this.#cluster
      .daemon(via)
      .cli(args, { timeoutMs })
      .catch((err: unknown) => ({ code: null, stdout: '', stderr: err instanceof Error ? err.message : String(err) }));
    const record: OpRecord = {
      at: Date.now(),
      op,
      via,
      ok: res.code === 0,
      detail: res.code === 0 ? res.stdout.trim() : (res.stderr.trim().split('\n')[0] ?? ''),
      warning: res.code === 0 ? (res.stderr.split('\n').find((l) => l.startsWith('WARNING:')) ?? '') : '',
    };
    this.ops.push(record);
    return record;
  }

  /** Creates the base network and the service (before any fault). */
  async setUp(): Promise<void> {
    const net = await this.#run('network create', 0, [
      'network',
      'create',
      '-d',
      'overlay',
      '--attachable',
      BASE_NETWORK,
    ]);
    if (!net.ok) {
      throw new Error(`cannot create ${BASE_NETWORK}: ${net.detail}`);
    }
    this.networks.set(BASE_NETWORK, net.detail);
    const svc = await this.#run(
      'service create',
      0,
      [
        'service',
        'create',
        '--name',
        SERVICE,
        '--replicas',
        '3',
        '--constraint',
        'node.role==worker',
        '--network',
        BASE_NETWORK,
        '--',
        'sleep',
        '3600',
      ],
      60_000,
    );
    if (!svc.ok) {
      throw new Error(`cannot create the service: ${svc.detail}`);
    }
    for (const host of [...WORKERS, 0]) {
      await this.runContainer(host, BASE_NETWORK, true);
    }
  }

  async createNetwork(): Promise<void> {
    const via = this.#pick(this.#liveManagers());
    if (via === undefined) {
      return;
    }
    const name = `fnet${++this.#seq}`;
    const r = await this.#run('network create', via, ['network', 'create', '-d', 'overlay', '--attachable', name]);
    if (r.ok) {
      this.networks.set(name, r.detail);
    } else {
      this.uncertainNetworks.add(name);
    }
  }

  async runContainer(host?: number, network?: string, pinned = false): Promise<void> {
    const on = host ?? this.#pick([...this.live]);
    const net = network ?? this.#pick([...this.networks.keys()]);
    if (on === undefined || net === undefined) {
      return;
    }
    const name = `w${++this.#seq}`;
    const r = await this.#run('run', on, ['run', '-d', '--name', name, '--network', net, '--', 'sleep', '3600']);
    this.containers.set(name, { name, host: on, network: net, state: r.ok ? 'running' : 'uncertain', pinned });
  }

  async removeContainer(): Promise<void> {
    const c = this.#pick(
      [...this.containers.values()].filter((x) => x.state === 'running' && !x.pinned && this.live.has(x.host)),
    );
    if (!c) {
      return;
    }
    const r = await this.#run('rm', c.host, ['rm', '-f', c.name]);
    c.state = r.ok ? 'removed' : 'uncertain';
  }

  /**
   * Removes the newest running, unpinned container on `host` (none: nothing happens); no random
   * draw, so the seed's other choices stay as they were. @returns the rm's record, if it ran.
   */
  async removeContainerOn(host: number): Promise<OpRecord | undefined> {
    const c = [...this.containers.values()].filter((x) => x.state === 'running' && !x.pinned && x.host === host).at(-1);
    if (!c) {
      return undefined;
    }
    const r = await this.#run('rm', c.host, ['rm', '-f', c.name]);
    c.state = r.ok ? 'removed' : 'uncertain';
    return r;
  }

  async scaleService(): Promise<void> {
    const via = this.#pick(this.#liveManagers());
    if (via === undefined) {
      return;
    }
    const n = 2 + Math.floor(this.#random() * 4);
    const r = await this.#run('service scale', via, ['service', 'scale', `${SERVICE}=${n}`, '-d']);
    if (r.ok) {
      this.replicas = { acked: n, uncertain: new Set() };
    } else {
      this.replicas.uncertain.add(n);
    }
  }

  /** One random operation; no scaling when `scale` is false. */
  async step(scale = true): Promise<void> {
    const x = this.#random() * (scale ? 1 : 0.8);
    if (x < 0.1) {
      await this.createNetwork();
    } else if (x < 0.55) {
      await this.runContainer();
    } else if (x < 0.8) {
      await this.removeContainer();
    } else {
      await this.scaleService();
    }
  }

  /** Runs steps one after another until `signal` aborts (or `maxSteps`), pausing `gapMs` between them. */
  async runUntil(signal: AbortSignal, gapMs = 300, maxSteps = 2000, opts: { scale?: boolean } = {}): Promise<void> {
    for (let i = 0; i < maxSteps && !signal.aborted; i++) {
      await this.step(opts.scale ?? true);
      await new Promise((resolve) => setTimeout(resolve, gapMs));
    }
  }
}
