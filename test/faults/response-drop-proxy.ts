/**
 * A TCP proxy in front of etcd that can lose the answer to one request: armed with a byte
 * pattern, it forwards the client's bytes as usual, and once the pattern has gone by on a
 * connection (gRPC does not compress etcd requests, so keys appear as they are), it stops
 * forwarding anything etcd sends back on that connection and cuts it after `holdMs`. etcd has
 * applied the request by then; the client only sees its connection drop, which is the
 * "uncertain outcome" etcd's API guarantees warn about (RELIABILITY.md A1, A4 test 3).
 */
import { createServer, connect } from 'node:net';
import type { Server, Socket } from 'node:net';

export interface DropOptions {
  /** How long the connection stays open, answering nothing, before it is cut; default 300 ms. */
  readonly holdMs?: number;
  /** After the cut, new connections are refused this long (etcd unreachable); default 0. */
  readonly refuseMs?: number;
}

export interface ResponseDropProxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`, for the client's endpoint list. */
  readonly endpoint: string;
  /**
   * Loses the response on the connection whose next request bytes contain every one of
   * `patterns` (in one read from the socket, plus the end of the previous one in case a pattern
   * straddles two); resolves once that happened.
   */
  dropNextResponse(patterns: readonly string[], opts?: DropOptions): Promise<void>;
  /** How many responses were dropped so far. */
  readonly dropped: number;
  close(): Promise<void>;
}

/** Bytes of the previous read kept for matching, so a pattern split across two reads is found. */
const CARRY = 512;

export async function startResponseDropProxy(target: { host: string; port: number }): Promise<ResponseDropProxy> {
  const sockets = new Set<Socket>();
  let armed: { patterns: Buffer[]; holdMs: number; refuseMs: number; done: () => void } | undefined;
  let dropped = 0;
  let refuseUntil = 0;

  const server: Server = createServer((client) => {
    if (Date.now() < refuseUntil) {
      client.destroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    sockets.add(client);
    sockets.add(upstream);
    let carry = Buffer.alloc(0);
    let blackhole = false;
    const destroy = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      if (!armed || blackhole) {
        return;
      }
      const window = Buffer.concat([carry, chunk]);
      carry = window.subarray(Math.max(0, window.length - CARRY));
      const trigger = armed;
      if (trigger.patterns.every((p) => window.includes(p))) {
        armed = undefined;
        blackhole = true;
        dropped++;
        setTimeout(() => {
          refuseUntil = Date.now() + trigger.refuseMs;
          destroy();
          trigger.done();
        }, trigger.holdMs).unref();
      }
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!blackhole) {
        client.write(chunk);
      }
    });
    client.on('error', destroy);
    upstream.on('error', destroy);
    client.on('close', destroy);
    upstream.on('close', destroy);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === 'string') {
    server.close();
    throw new Error('proxy has no TCP address');
  }
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closed ??= new Promise<void>((resolve) => {
      for (const s of sockets) {
        s.destroy();
      }
      server.close(() => resolve());
    }));
  return {
    endpoint: `http://127.0.0.1:${address.port}`,
    dropNextResponse(patterns, opts = {}) {
      return new Promise<void>((resolve) => {
        armed = {
          patterns: patterns.map((p) => Buffer.from(p)),
          holdMs: opts.holdMs ?? 300,
          refuseMs: opts.refuseMs ?? 0,
          done: resolve,
        };
      });
    },
    get dropped() {
      return dropped;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
