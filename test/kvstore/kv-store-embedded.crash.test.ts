import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/common/errors.js';
import { EmbeddedKvStore } from '../../src/kvstore/kv-store-embedded.js';

const WRITER = fileURLToPath(new URL('./fixtures/embedded-writer.ts', import.meta.url));
const ROUNDS = 10;

interface Ack {
  readonly key: string;
  readonly value: string;
  readonly rev: bigint;
}

/**
 * Runs the writer on `path`, SIGKILLs it `killAfterMs` after it reports ready, and returns the
 * keys it acknowledged. `whileRunning` runs while the writer holds the store open.
 */
async function runAndKill(
  path: string,
  tag: string,
  killAfterMs: number,
  whileRunning: () => Promise<void>,
): Promise<Ack[]> {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, path, tag], {
    cwd: process.cwd(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  try {
    const deadline = Date.now() + 15_000;
    while (!out.startsWith('ready\n')) {
      if (child.exitCode !== null || Date.now() > deadline) {
        throw new Error(`writer did not start: ${err.slice(0, 2000)}`);
      }
      await sleep(5);
    }
    await whileRunning();
    await sleep(killAfterMs);
    if (child.exitCode !== null) {
      throw new Error(`writer died on its own: ${err.slice(0, 2000)}`);
    }
  } finally {
    child.kill('SIGKILL');
  }
  expect(await exited).toBe('SIGKILL');
  // The last line may be cut short by the kill; only complete lines are acknowledgements.
  const lines = out.split('\n').slice(1, -1);
  return lines.map((l) => {
    const a = JSON.parse(l) as { key: string; value: string; rev: string };
    return { key: a.key, value: a.value, rev: BigInt(a.rev) };
  });
}

describe('EmbeddedKvStore crash safety', () => {
  let dir: string;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vxmesh-kv-crash-'));
  });

  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it(`keeps every acknowledged write across ${ROUNDS} SIGKILLs`, { timeout: 60_000 }, async () => {
    const path = join(dir, 'store.db');
    const acked: Ack[] = [];
    let lastRevision = 0n;
    for (let round = 0; round < ROUNDS; round++) {
      const killAfterMs = 100 + Math.floor(Math.random() * 700);
      const acks = await runAndKill(path, `r${round}`, killAfterMs, async () => {
        if (round === 0) {
          // While the writer lives, the file is locked against us.
          await expect(EmbeddedKvStore.open({ path })).rejects.toBeInstanceOf(UnavailableError);
        }
      });
      expect(acks.length, `round ${round} acknowledged nothing in ${killAfterMs} ms`).toBeGreaterThan(0);
      acked.push(...acks);

      const store = await EmbeddedKvStore.open({ path });
      try {
        const { revision } = await store.get('probe');
        const maxAcked = acks.reduce((m, a) => (a.rev > m ? a.rev : m), 0n);
        expect(revision).toBeGreaterThanOrEqual(maxAcked);
        expect(revision).toBeGreaterThan(lastRevision);
        lastRevision = revision;
        const missing: string[] = [];
        for (const a of acked) {
          const { kv } = await store.get(a.key);
          if (kv === undefined || Buffer.from(kv.value).toString() !== a.value) {
            missing.push(a.key);
            continue;
          }
          // Every key is written once: its revisions are those of the acknowledged write.
          expect([kv.modRevision, kv.createRevision, kv.version]).toEqual([a.rev, a.rev, 1n]);
        }
        expect(missing, `lost acknowledged writes after round ${round}`).toEqual([]);
        // Revisions of one round are distinct except for the two keys of one txn.
        const byRev = new Map<bigint, number>();
        for (const a of acks) {
          byRev.set(a.rev, (byRev.get(a.rev) ?? 0) + 1);
        }
        expect(Math.max(...byRev.values())).toBeLessThanOrEqual(2);
        // Whatever was committed (acknowledged or not) is internally consistent.
        const page = await store.range(`r${round}/`);
        for (const kv of page.kvs) {
          expect(kv.modRevision).toBeLessThanOrEqual(revision);
          expect(Buffer.from(kv.value).toString().startsWith(`${kv.key}|`)).toBe(true);
        }
        // History agrees with the keys: replaying the last revisions gives what is stored.
        for await (const ev of store.watch(`r${round}/`, { fromRevision: revision - 50n })) {
          if (ev.type !== 'put') {
            throw new Error(`unexpected ${ev.type} event in replay`);
          }
          expect((await store.get(ev.kv.key)).kv).toEqual(ev.kv);
          if (ev.kv.modRevision === revision) {
            break;
          }
        }
      } finally {
        await store.close();
      }
    }
  });
});
