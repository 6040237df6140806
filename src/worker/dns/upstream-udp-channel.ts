import type { RemoteInfo, Socket as UdpSocket } from 'node:dgram';
import { FLAG_QR, HEADER_BYTES } from './dns-wire.js';

interface Pending {
  readonly server: string;
  readonly port: number;
  /** Lowercased question bytes (name, type, class) as latin1: the reply must repeat them. */
  readonly question: string;
  readonly timer: NodeJS.Timeout;
  readonly resolve: (reply: Buffer | undefined) => void;
}

/** Upstream servers listen on the standard port. */
export const UPSTREAM_PORT = 53;

/**
 * Query/response matching over one UDP socket shared by every forwarded query of a container.
 * Each exchange gets a fresh random ID not in flight on this socket; a datagram counts as the
 * reply only if it comes from the server and port asked, is a response, carries that ID and
 * repeats the question (case-insensitively). Anything else is ignored, so stray or spoofed
 * datagrams cannot complete an exchange with the wrong data.
 */
export class UpstreamUdpChannel {
  readonly #socket: UdpSocket;
  readonly #randomId: () => number;
  readonly #pending = new Map<number, Pending>();
  #closed = false;

  constructor(socket: UdpSocket, randomId: () => number) {
    this.#socket = socket;
    this.#randomId = randomId;
    socket.on('message', (msg, rinfo) => this.#onMessage(msg, rinfo));
    // A send to an unreachable server surfaces here on some kernels; the exchange times out.
    socket.on('error', () => undefined);
  }

  get inFlight(): number {
    return this.#pending.size;
  }

  /**
   * Sends `query` (any ID; a copy is sent with a fresh one) to `server`:`port` and resolves with
   * the reply, or undefined on timeout, send failure, ID exhaustion or {@link close}. Never rejects.
   * @param questionEnd offset just past the query's question.
   */
  exchange(
    query: Buffer,
    questionEnd: number,
    server: string,
    port: number,
    timeoutMs: number,
  ): Promise<Buffer | undefined> {
    if (this.#closed) {
      return Promise.resolve(undefined);
    }
    let id = -1;
    // Bounded: 16 tries at a free ID; with at most ~1k in flight of 65,536 a clash is rare.
    for (let i = 0; i < 16; i++) {
      const candidate = this.#randomId() & 0xffff;
      if (!this.#pending.has(candidate)) {
        id = candidate;
        break;
      }
    }
    if (id < 0) {
      return Promise.resolve(undefined);
    }
    const out = Buffer.from(query);
    out.writeUInt16BE(id, 0);
    const question = out.toString('latin1', HEADER_BYTES, questionEnd).toLowerCase();
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#settle(id, undefined), timeoutMs);
      timer.unref();
      this.#pending.set(id, { server, port, question, timer, resolve });
      this.#socket.send(out, port, server, (err) => {
        if (err) {
          this.#settle(id, undefined);
        }
      });
    });
  }

  #onMessage(msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < HEADER_BYTES || ((msg[2] ?? 0) & FLAG_QR) === 0) {
      return;
    }
    const id = msg.readUInt16BE(0);
    const p = this.#pending.get(id);
    if (!p || rinfo.port !== p.port || rinfo.address !== p.server) {
      return;
    }
    const end = HEADER_BYTES + p.question.length;
    if (
      msg.readUInt16BE(4) !== 1 ||
      msg.length < end ||
      msg.toString('latin1', HEADER_BYTES, end).toLowerCase() !== p.question
    ) {
      return;
    }
    this.#settle(id, msg);
  }

  #settle(id: number, reply: Buffer | undefined): void {
    const p = this.#pending.get(id);
    if (p) {
      this.#pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(reply);
    }
  }

  /** Ends every pending exchange (undefined) and stops matching; the socket is closed by its owner. */
  close(): void {
    this.#closed = true;
    for (const id of [...this.#pending.keys()]) {
      this.#settle(id, undefined);
    }
  }
}
