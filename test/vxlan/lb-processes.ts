/**
 * Small servers and a scripted client for the load-balancing tests and bench, each a Node process
 * started inside a network namespace (`ip netns exec`). Servers say who they are: a TCP server
 * writes its name on connect and again for every chunk it receives; an HTTP server answers its
 * name. The client is driven over stdin/stdout with one JSON command per line, so a test can keep
 * connections open across reconcile passes. Every wait is bounded.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';

const TCP_SERVER = `
const [name, port] = [process.argv[1], Number(process.argv[2])];
require('node:net').createServer((s) => {
  s.on('error', () => {});
  s.write(name + '\\n');
  s.on('data', () => s.write(name + '\\n'));
}).listen(port, '0.0.0.0', () => console.log('ready'));
`;

const HTTP_SERVER = `
const [name, port] = [process.argv[1], Number(process.argv[2])];
const server = require('node:http').createServer((req, res) => {
  res.setHeader('connection', 'close');
  res.end(name + ' ' + req.socket.remoteAddress + '\\n');
});
server.keepAliveTimeout = 0;
server.listen(port, '0.0.0.0', () => console.log('ready'));
`;

/**
 * Commands (one JSON object per line) and answers ({ id, ok, value | error }):
 * - burst {host, port, localAddress?, fromPort?, count}: one connection after another (from
 *   consecutive local ports when fromPort is given), reading the first line; value: names in order.
 * - open {key, host, port, localAddress?, localPort?}: opens and keeps a connection; value: first line.
 * - send {key}: writes a byte on a kept connection; value: the line that comes back.
 * - close {key}.
 * - http {url, count, concurrency, localAddress?}: GETs without keep-alive (a connection per request); value:
 *   { ms, ok, failed, names: {name: count} }.
 * - httpFrom {url, fromPort, count}: GETs one after another from consecutive local ports; value:
 *   the bodies (`<name> <client address as the server saw it>`).
 */
const CLIENT = `
const net = require('node:net');
const http = require('node:http');
const kept = new Map();
function lineReader(s) {
  const queue = []; const waiters = []; let buf = '';
  s.setEncoding('utf8');
  s.on('data', (d) => {
    buf += d; let i;
    while ((i = buf.indexOf('\\n')) >= 0) {
      const line = buf.slice(0, i); buf = buf.slice(i + 1);
      const w = waiters.shift(); if (w) { w.resolve(line); } else { queue.push(line); }
    }
  });
  const fail = (e) => { for (const w of waiters.splice(0)) { w.reject(e); } };
  s.on('error', fail);
  s.on('close', () => fail(new Error('closed')));
  return () => new Promise((resolve, reject) => {
    if (queue.length > 0) { resolve(queue.shift()); return; }
    const t = setTimeout(() => reject(new Error('timeout')), 3000);
    waiters.push({ resolve: (l) => { clearTimeout(t); resolve(l); }, reject: (e) => { clearTimeout(t); reject(e); } });
  });
}
function connect(c, localPort) {
  return new Promise((resolve, reject) => {
    const opts = { host: c.host, port: c.port };
    if (c.localAddress) { opts.localAddress = c.localAddress; }
    if (localPort) { opts.localPort = localPort; }
    const s = net.connect(opts);
    const next = lineReader(s);
    const t = setTimeout(() => { s.destroy(); reject(new Error('connect timeout')); }, 3000);
    s.once('connect', () => { clearTimeout(t); resolve({ s, next }); });
    s.once('error', (e) => { clearTimeout(t); reject(e); });
  });
}
function get(url, localPort, localAddress) {
  return new Promise((resolve, reject) => {
    const opts = { agent: false, timeout: 3000 };
    if (localPort) { opts.localPort = localPort; }
    if (localAddress) { opts.localAddress = localAddress; }
    const req = http.get(url, opts, (res) => {
      let body = ''; res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve(localPort ? body.trim() : body.split(' ')[0]));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}
async function run(c) {
  switch (c.op) {
    case 'burst': {
      const names = [];
      for (let i = 0; i < c.count; i++) {
        const { s, next } = await connect(c, c.fromPort ? c.fromPort + i : undefined);
        names.push(await next());
        s.destroy();
      }
      return names;
    }
    case 'open': {
      const conn = await connect(c, c.localPort);
      kept.set(c.key, conn);
      return conn.next();
    }
    case 'send': {
      const conn = kept.get(c.key);
      conn.s.write('x');
      return conn.next();
    }
    case 'close': {
      kept.get(c.key)?.s.destroy(); kept.delete(c.key); return null;
    }
    case 'httpFrom': {
      const bodies = [];
      for (let i = 0; i < c.count; i++) { bodies.push(await get(c.url, c.fromPort + i)); }
      return bodies;
    }
    case 'http': {
      const names = {}; let ok = 0; let failed = 0; let started = 0;
      const t0 = performance.now();
      const worker = async () => {
        while (started < c.count) {
          started++;
          try { const n = await get(c.url, undefined, c.localAddress); names[n] = (names[n] || 0) + 1; ok++; } catch { failed++; }
        }
      };
      await Promise.all(Array.from({ length: c.concurrency }, worker));
      return { ms: performance.now() - t0, ok, failed, names };
    }
  }
  throw new Error('unknown op ' + c.op);
}
require('node:readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const c = JSON.parse(line);
  run(c).then(
    (value) => console.log(JSON.stringify({ id: c.id, ok: true, value })),
    (err) => console.log(JSON.stringify({ id: c.id, ok: false, error: String(err && err.message || err) })),
  );
});
console.log(JSON.stringify({ id: 0, ok: true, value: 'ready' }));
`;

/** Processes started by this module, killed by {@link killLbProcesses}. */
const started = new Set<ChildProcess>();

function spawnIn(netns: string, code: string, args: readonly string[]): ChildProcess {
  const child = spawn('ip', ['netns', 'exec', netns, process.execPath, '-e', code, ...args], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  started.add(child);
  child.once('exit', () => started.delete(child));
  return child;
}

async function firstLine(child: ChildProcess, timeoutMs = 10_000): Promise<string> {
  if (child.stdout === null) {
    throw new Error('no stdout');
  }
  const lines = createInterface({ input: child.stdout });
  const [line] = (await once(lines, 'line', { signal: AbortSignal.timeout(timeoutMs) })) as [string];
  lines.close();
  return line;
}

/** A TCP server in `netns` on `port` (all addresses) that names itself; resolves once listening. */
export async function startNameServer(netns: string, name: string, port: number): Promise<ChildProcess> {
  const child = spawnIn(netns, TCP_SERVER, [name, String(port)]);
  await firstLine(child);
  return child;
}

/** An HTTP server in `netns` answering `<name> <client address>`; resolves once listening. */
export async function startHttpServer(netns: string, name: string, port: number): Promise<ChildProcess> {
  const child = spawnIn(netns, HTTP_SERVER, [name, String(port)]);
  await firstLine(child);
  return child;
}

/** Result of an `http` command. */
export interface HttpRun {
  readonly ms: number;
  readonly ok: number;
  readonly failed: number;
  readonly names: Record<string, number>;
}

/** The scripted client in one namespace. */
export class LbClient {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  #next = 1;

  private constructor(child: ChildProcess) {
    this.#child = child;
    if (child.stdout === null) {
      throw new Error('no stdout');
    }
    createInterface({ input: child.stdout }).on('line', (line) => {
      const answer = JSON.parse(line) as { id: number; ok: boolean; value?: unknown; error?: string };
      const p = this.#pending.get(answer.id);
      this.#pending.delete(answer.id);
      if (answer.ok) {
        p?.resolve(answer.value);
      } else {
        p?.reject(new Error(answer.error));
      }
    });
  }

  static async start(netns: string): Promise<LbClient> {
    const child = spawnIn(netns, CLIENT, []);
    const ready = await firstLine(child);
    if (!ready.includes('ready')) {
      throw new Error(`client did not start: ${ready}`);
    }
    return new LbClient(child);
  }

  /** Sends one command; rejects with the client's error or after `timeoutMs`. */
  call<T>(command: Record<string, unknown>, timeoutMs = 60_000): Promise<T> {
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`client command ${JSON.stringify(command)} timed out`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.#child.stdin?.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }

  close(): void {
    this.#child.kill('SIGKILL');
  }
}

/** SIGKILLs every process this module started that is still running. */
export async function killLbProcesses(): Promise<void> {
  const waits = [...started].map(async (child) => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    }
  });
  await Promise.all(waits);
}
