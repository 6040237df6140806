import type { RemoteInfo } from 'node:dgram';
import type { Socket } from 'node:net';
import { createLogger } from '../../common/logger.js';
import type { AskerContext } from './asker-context.js';
import type { DnsCounters } from './dns-counters.js';
import { closeHandles } from './close-handles.js';
import type { ResolverSockets } from './dns-namespace-driver.js';
import { serveDnsTcp } from './dns-tcp-session.js';
import { Rcode } from './dns-wire.js';
import type { ForwardRequest, QueryHandler, QueryTransport } from './query-handler.js';
import { encodeRcodeResponse } from './response-encoder.js';
import type { UpstreamForwarder, UpstreamRoute } from './upstream-forwarder.js';
import { UpstreamUdpChannel } from './upstream-udp-channel.js';

const log = createLogger('worker.dns');

export interface ContainerResolverDeps {
  readonly handler: QueryHandler;
  readonly forwarder: UpstreamForwarder;
  readonly counters: DnsCounters;
  /** Opens a TCP connection from the container's namespace (upstream TCP fallback). */
  readonly connectTcp: (address: string, port: number, signal: AbortSignal) => Promise<Socket>;
  /** Random 16-bit IDs for upstream queries. */
  readonly randomId: () => number;
  /** Concurrent TCP clients of this resolver; more are closed on accept. */
  readonly maxTcpConnections: number;
  readonly tcpIdleMs: number;
}

/** Queries in progress per TCP client connection. */
const TCP_MAX_PENDING = 16;

/**
 * The resolver of one container: serves the UDP and TCP sockets that live in its namespace, and
 * knows the asker by the socket a query arrived on (each container has its own). Local answers
 * are sent synchronously from the receive callback; forwarded queries go out through the
 * container's own upstream sockets. {@link close} closes every socket and ends pending forwards.
 */
export class ContainerResolver {
  readonly asker: AskerContext;
  readonly #sockets: ResolverSockets;
  readonly #deps: ContainerResolverDeps;
  readonly #route: UpstreamRoute;
  readonly #udp4: UpstreamUdpChannel | undefined;
  readonly #udp6: UpstreamUdpChannel | undefined;
  readonly #abort = new AbortController();
  readonly #tcpClients = new Set<Socket>();

  constructor(sockets: ResolverSockets, asker: AskerContext, deps: ContainerResolverDeps) {
    this.asker = asker;
    this.#sockets = sockets;
    this.#deps = deps;
    this.#udp4 = sockets.upstream4 ? new UpstreamUdpChannel(sockets.upstream4, deps.randomId) : undefined;
    this.#udp6 = sockets.upstream6 ? new UpstreamUdpChannel(sockets.upstream6, deps.randomId) : undefined;
    this.#route = { udp4: this.#udp4, udp6: this.#udp6, connectTcp: deps.connectTcp };

    const udp = sockets.udp;
    udp.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.#onUdp(msg, rinfo));
    // Send failures surface here (no callback per send on the hot path); counted, logged at debug
    // only, since a flooding client could otherwise flood the log too.
    udp.on('error', (err) => {
      deps.counters.socketErrors++;
      log.debug({ err }, 'resolver UDP socket error');
    });

    const tcp = sockets.tcp;
    tcp.maxConnections = deps.maxTcpConnections;
    tcp.on('drop', () => deps.counters.tcpRejected++);
    tcp.on('error', (err) => log.warn({ err }, 'resolver TCP socket error'));
    tcp.on('connection', (socket: Socket) => this.#onTcp(socket));
  }

  #onUdp(msg: Buffer, rinfo: RemoteInfo): void {
    const counters = this.#deps.counters;
    counters.udpQueries++;
    const out = this.#deps.handler.handle(msg, this.asker, 'udp');
    if (out === undefined) {
      return;
    }
    if (Buffer.isBuffer(out)) {
      this.#sockets.udp.send(out, rinfo.port, rinfo.address);
      return;
    }
    void this.#forward(msg, out, 'udp').then((reply) => {
      if (reply && !this.#abort.signal.aborted) {
        this.#sockets.udp.send(reply, rinfo.port, rinfo.address);
      }
    });
  }

  #onTcp(socket: Socket): void {
    const counters = this.#deps.counters;
    counters.tcpConnections++;
    this.#tcpClients.add(socket);
    socket.on('close', () => this.#tcpClients.delete(socket));
    serveDnsTcp(
      socket,
      (query) => {
        const out = this.#deps.handler.handle(query, this.asker, 'tcp');
        return out === undefined || Buffer.isBuffer(out) ? out : this.#forward(Buffer.from(query), out, 'tcp');
      },
      {
        idleMs: this.#deps.tcpIdleMs,
        maxPending: TCP_MAX_PENDING,
        onQuery: () => counters.tcpQueries++,
        onBadFrame: () => counters.dropped++,
      },
    );
  }

  /** The upstream reply, or SERVFAIL/REFUSED built here; never rejects. */
  async #forward(msg: Buffer, req: ForwardRequest, transport: QueryTransport): Promise<Buffer | undefined> {
    try {
      const result = await this.#deps.forwarder.forward(
        msg,
        req.query,
        req.upstreams,
        this.#route,
        transport === 'tcp',
        this.#abort.signal,
      );
      if (Buffer.isBuffer(result)) {
        return result;
      }
      return encodeRcodeResponse(msg, req.query, result === 'busy' ? Rcode.REFUSED : Rcode.SERVFAIL, true);
    } catch (err) {
      log.warn({ err }, 'forwarding failed unexpectedly');
      return undefined;
    }
  }

  /** Closes the sockets (in the namespace too: this process holds their last reference). Idempotent. */
  close(): void {
    if (this.#abort.signal.aborted) {
      return;
    }
    this.#abort.abort();
    this.#udp4?.close();
    this.#udp6?.close();
    for (const s of this.#tcpClients) {
      s.destroy();
    }
    const s = this.#sockets;
    closeHandles([s.udp, s.tcp, ...(s.upstream4 ? [s.upstream4] : []), ...(s.upstream6 ? [s.upstream6] : [])]);
  }
}
