/**
 * The floor under the dispatcher's memory per idle session (issue 5): what one idle mutual-TLS
 * connection costs a Node server before any vxmesh code runs, with the cluster's own kind of
 * certificates (RSA-2048, built by the cluster CA). Three transports, each in a fresh server
 * process: a bare TLS socket, an HTTP/2 session with one open stream, and a grpc-js server with
 * one open bidirectional call (what an agent's Session stream is, channelz off as in the manager).
 * Reported per connection: server RSS and V8 heap + external, each after a forced GC, as
 * (with N connections - with none) / N. Compare with bench/dispatcher's "per idle session".
 *
 *   node --import tsx bench/transport-memory.ts [--connections 1000]
 *
 * Only 127.0.0.1 is used; the server child is killed at the end.
 */
import { fork } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import http2 from 'node:http2';
import tls from 'node:tls';
import { fileURLToPath } from 'node:url';
import { Client, credentials, Server, ServerCredentials } from '@grpc/grpc-js';
import type { ServerDuplexStream, ServiceDefinition } from '@grpc/grpc-js';
import { generateKeyAndCsr } from '../src/common/tls/key-pair.js';
import { createRootCa, signNodeCertificate } from '../src/manager/ca/certificate-authority.js';
import { MANAGER_TLS_NAME } from '../src/worker/cluster-channel.js';

type Transport = 'tls' | 'http2' | 'grpc';
const TRANSPORTS: readonly Transport[] = ['tls', 'http2', 'grpc'];

interface Pki {
  readonly caPem: string;
  readonly serverKeyPem: string;
  readonly serverCertPem: string;
  readonly clientKeyPem: string;
  readonly clientCertPem: string;
}

/** Messages between this process and the server child. */
type ToServer = { readonly kind: 'start'; readonly transport: Transport; readonly pki: Pki } | { readonly kind: 'memory' };
type FromServer = { readonly kind: 'listening'; readonly port: number } | { readonly kind: 'memory'; readonly rss: number; readonly heap: number };

const identity = (b: Buffer): Buffer => b;
/** One bidirectional method with raw bytes: enough for an open call, no protobuf needed. */
const HOLD_SERVICE: ServiceDefinition = {
  hold: {
    path: '/bench.Hold/Hold',
    requestStream: true,
    responseStream: true,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function makePki(): Promise<Pki> {
  const now = Date.now();
  const ca = await createRootCa('bench', now);
  const issue = async (nodeId: string, role: 'manager' | 'worker'): Promise<{ keyPem: string; certPem: string }> => {
    const { keyPem, csrPem } = await generateKeyAndCsr();
    return { keyPem, certPem: signNodeCertificate(ca, { csrPem, nodeId, role, clusterId: 'bench', now, validityMs: 24 * 3600_000 }) };
  };
  const server = await issue('manager0', 'manager');
  const client = await issue('worker0', 'worker');
  return {
    caPem: ca.certPem,
    serverKeyPem: server.keyPem,
    serverCertPem: server.certPem,
    clientKeyPem: client.keyPem,
    clientCertPem: client.certPem,
  };
}

// ---- server child ----

function serve(transport: Transport, pki: Pki, send: (m: FromServer) => void): void {
  const tlsOptions = {
    key: pki.serverKeyPem,
    cert: pki.serverCertPem,
    ca: pki.caPem,
    requestCert: true,
    rejectUnauthorized: true,
  };
  switch (transport) {
    case 'tls': {
      const server = tls.createServer(tlsOptions, (socket) => socket.on('data', () => undefined));
      server.listen(0, '127.0.0.1', () => send({ kind: 'listening', port: (server.address() as { port: number }).port }));
      return;
    }
    case 'http2': {
      const server = http2.createSecureServer(tlsOptions);
      server.on('stream', (stream) => stream.respond({ ':status': 200 }));
      server.listen(0, '127.0.0.1', () => send({ kind: 'listening', port: (server.address() as { port: number }).port }));
      return;
    }
    case 'grpc': {
      const server = new Server({ 'grpc.keepalive_permit_without_calls': 1, 'grpc.enable_channelz': 0 });
      server.addService(HOLD_SERVICE, {
        hold: (call: ServerDuplexStream<Buffer, Buffer>) => {
          call.write(Buffer.from('ok'));
          call.on('data', () => undefined);
        },
      });
      const creds = ServerCredentials.createSsl(
        Buffer.from(pki.caPem),
        [{ private_key: Buffer.from(pki.serverKeyPem), cert_chain: Buffer.from(pki.serverCertPem) }],
        true,
      );
      server.bindAsync('127.0.0.1:0', creds, (err, port) => {
        if (err) {
          throw err;
        }
        send({ kind: 'listening', port });
      });
      return;
    }
  }
}

function runServerChild(): void {
  const send = (m: FromServer): void => {
    process.send?.(m);
  };
  process.on('message', (m: ToServer) => {
    if (m.kind === 'start') {
      serve(m.transport, m.pki, send);
      return;
    }
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    // Let freed native buffers go back before reading RSS.
    setTimeout(() => {
      const u = process.memoryUsage();
      send({ kind: 'memory', rss: u.rss, heap: u.heapUsed + u.external });
    }, 500);
  });
}

// ---- driver ----

function nextMessage(child: ChildProcess): Promise<FromServer> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null): void => reject(new Error(`server child exited (${code})`));
    child.once('exit', onExit);
    child.once('message', (m: FromServer) => {
      child.off('exit', onExit);
      resolve(m);
    });
  });
}

async function memoryOf(child: ChildProcess): Promise<{ rss: number; heap: number }> {
  child.send({ kind: 'memory' } satisfies ToServer);
  const m = await nextMessage(child);
  if (m.kind !== 'memory') {
    throw new Error(`unexpected ${m.kind}`);
  }
  return m;
}

/** Opens one idle connection of `transport`; resolves once it carries an open stream; returns its closer. */
async function connect(transport: Transport, port: number, pki: Pki): Promise<() => void> {
  const clientTls = { key: pki.clientKeyPem, cert: pki.clientCertPem, ca: pki.caPem, servername: MANAGER_TLS_NAME };
  switch (transport) {
    case 'tls': {
      const socket = tls.connect({ host: '127.0.0.1', port, ...clientTls });
      await new Promise<void>((resolve, reject) => {
        socket.once('secureConnect', resolve);
        socket.once('error', reject);
      });
      socket.write('x');
      return () => socket.destroy();
    }
    case 'http2': {
      const session = http2.connect(`https://127.0.0.1:${port}`, clientTls);
      const stream = session.request({ ':path': '/' });
      stream.on('data', () => undefined);
      await new Promise<void>((resolve, reject) => {
        stream.once('response', () => resolve());
        session.once('error', reject);
      });
      return () => session.destroy();
    }
    case 'grpc': {
      const client = new Client(
        `127.0.0.1:${port}`,
        credentials.createSsl(Buffer.from(pki.caPem), Buffer.from(pki.clientKeyPem), Buffer.from(pki.clientCertPem)),
        // Own connection per client, as each agent has: grpc-js otherwise shares one per target.
        { 'grpc.ssl_target_name_override': MANAGER_TLS_NAME, 'grpc.use_local_subchannel_pool': 1 },
      );
      const call = client.makeBidiStreamRequest('/bench.Hold/Hold', identity, identity);
      await new Promise<void>((resolve, reject) => {
        call.once('data', () => resolve());
        call.once('error', reject);
      });
      return () => {
        call.cancel();
        client.close();
      };
    }
  }
}

async function measure(transport: Transport, n: number, pki: Pki): Promise<{ rssKiB: number; heapKiB: number }> {
  const child = fork(fileURLToPath(import.meta.url), ['--server'], { execArgv: ['--import', 'tsx', '--expose-gc'] });
  const closers: (() => void)[] = [];
  try {
    child.send({ kind: 'start', transport, pki } satisfies ToServer);
    const listening = await nextMessage(child);
    if (listening.kind !== 'listening') {
      throw new Error(`unexpected ${listening.kind}`);
    }
    const before = await memoryOf(child);
    for (let i = 0; i < n; i++) {
      closers.push(await connect(transport, listening.port, pki));
    }
    const after = await memoryOf(child);
    return { rssKiB: (after.rss - before.rss) / n / 1024, heapKiB: (after.heap - before.heap) / n / 1024 };
  } finally {
    for (const close of closers) {
      close();
    }
    child.kill('SIGKILL');
  }
}

async function main(argv: readonly string[]): Promise<void> {
  const at = argv.indexOf('--connections');
  const n = at >= 0 ? Number(argv[at + 1]) : 1000;
  if (!Number.isInteger(n) || n < 1 || n > 5000) {
    throw new Error(`--connections: want an integer 1..5000, got ${argv[at + 1] ?? ''}`);
  }
  const pki = await makePki();
  console.log(`idle mutual-TLS connections to a Node ${process.versions.node} server (OpenSSL ${process.versions.openssl}), N=${n}, RSA-2048 cluster certificates`);
  const results: Record<string, { rssKiB: number; heapKiB: number }> = {};
  for (const transport of TRANSPORTS) {
    const r = await measure(transport, n, pki);
    results[transport] = r;
    console.log(`  ${transport.padEnd(6)} per connection: RSS ${r.rssKiB.toFixed(1)} KiB, heap+external ${r.heapKiB.toFixed(1)} KiB`);
  }
  console.log(JSON.stringify({ connections: n, results }));
}

if (process.argv.includes('--server')) {
  runServerChild();
} else {
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  });
}
