import { isIP } from 'node:net';
import type { Socket } from 'node:net';
import type { DnsCounters } from './dns-counters.js';
import { FLAG_TC, Rcode } from './dns-wire.js';
import type { ParsedQuery } from './query-parser.js';
import { exchangeOverTcp } from './upstream-tcp-exchange.js';
import { UPSTREAM_PORT } from './upstream-udp-channel.js';
import type { UpstreamUdpChannel } from './upstream-udp-channel.js';

/** How one container reaches upstream servers: from inside its namespace. */
export interface UpstreamRoute {
  readonly udp4: UpstreamUdpChannel | undefined;
  readonly udp6: UpstreamUdpChannel | undefined;
  /** A TCP connection made from the container's namespace. @throws when it cannot connect. */
  connectTcp(address: string, port: number, signal: AbortSignal): Promise<Socket>;
}

export interface UpstreamForwarderOptions {
  /** Time one server gets to answer (per attempt, UDP or TCP). */
  readonly timeoutMs: number;
  /** Forwarded queries in flight on the whole node; past it queries are REFUSED (Docker: 1024). */
  readonly maxInFlight: number;
  readonly counters: DnsCounters;
  /** Port of the upstream servers. Default 53. */
  readonly port?: number;
}

/** The outcome of a forward: the reply (with the client's ID), `busy`, or `failed` (all servers). */
export type ForwardResult = Buffer | 'busy' | 'failed';

/**
 * Forwards queries the cluster does not own. Servers are tried in order; a server that times
 * out, fails to send, or answers SERVFAIL or REFUSED passes the query to the next one. Over UDP
 * the client's message is sent as is (its EDNS size included) under a fresh ID. A truncated UDP
 * reply is returned as is to a UDP client (which retries over TCP, per RFC 1035); for a TCP
 * client the same server is asked again over TCP. Concurrency is bounded node-wide.
 */
export class UpstreamForwarder {
  readonly #opts: UpstreamForwarderOptions;
  #inFlight = 0;

  constructor(opts: UpstreamForwarderOptions) {
    this.#opts = opts;
  }

  get inFlight(): number {
    return this.#inFlight;
  }

  /** Never rejects. `signal` aborts the TCP connects (container going away). */
  async forward(
    msg: Buffer,
    q: ParsedQuery,
    upstreams: readonly string[],
    route: UpstreamRoute,
    viaTcp: boolean,
    signal: AbortSignal,
  ): Promise<ForwardResult> {
    if (this.#inFlight >= this.#opts.maxInFlight) {
      this.#opts.counters.refused++;
      return 'busy';
    }
    this.#inFlight++;
    this.#opts.counters.forwarded++;
    try {
      for (const server of upstreams) {
        if (signal.aborted) {
          break;
        }
        const reply = await this.#ask(msg, q, server, route, viaTcp, signal);
        if (reply === undefined) {
          continue;
        }
        const rcode = (reply[3] ?? 0) & 0x0f;
        if (rcode === Rcode.SERVFAIL || rcode === Rcode.REFUSED) {
          continue;
        }
        reply.writeUInt16BE(q.id, 0);
        return reply;
      }
      this.#opts.counters.forwardFailures++;
      return 'failed';
    } finally {
      this.#inFlight--;
    }
  }

  async #ask(
    msg: Buffer,
    q: ParsedQuery,
    server: string,
    route: UpstreamRoute,
    viaTcp: boolean,
    signal: AbortSignal,
  ): Promise<Buffer | undefined> {
    const channel = isIP(server) === 6 ? route.udp6 : route.udp4;
    if (channel) {
      const reply = await channel.exchange(
        msg,
        q.questionEnd,
        server,
        this.#opts.port ?? UPSTREAM_PORT,
        this.#opts.timeoutMs,
      );
      if (reply === undefined || !viaTcp || ((reply[2] ?? 0) & FLAG_TC) === 0) {
        return reply;
      }
    }
    // TCP: the client came over TCP and the UDP reply was truncated, or there is no UDP socket
    // for the server's family.
    let socket: Socket;
    try {
      socket = await route.connectTcp(
        server,
        this.#opts.port ?? UPSTREAM_PORT,
        AbortSignal.any([signal, AbortSignal.timeout(this.#opts.timeoutMs)]),
      );
    } catch {
      return undefined;
    }
    return exchangeOverTcp(socket, msg, this.#opts.timeoutMs);
  }
}
