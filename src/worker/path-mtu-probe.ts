import { randomInt } from 'node:crypto';
import raw from 'raw-socket';
import type { PathMtuProbe } from '../vxlan/overlay-mtu.js';

/** Linux setsockopt constants raw-socket does not name. */
const IP_MTU_DISCOVER = 10;
/** Set DF and ignore the kernel's path-MTU cache: each probe tests exactly its own size. */
const IP_PMTUDISC_PROBE = 3;
const IP_HEADER = 20;
const ICMP_HEADER = 8;
const ECHO_REQUEST = 8;
const ECHO_REPLY = 0;
const ATTEMPTS_PER_SIZE = 3;

export interface PathMtuProbeOptions {
  /** The largest size worth trying: the MTU of the interface toward the peer. */
  readonly maxMtu: number;
  /** Below this the probe stops looking (IPv4 minimum reassembly size). */
  readonly minMtu?: number;
  /** How long one probe waits for its echo reply. */
  readonly timeoutMs?: number;
}

/**
 * The largest IPv4 packet that reaches `target` and comes back unfragmented, found by binary search
 * with ICMP echo requests sent with DF set. Frames too big for some hop are dropped silently on a
 * bridge or answered with "fragmentation needed" by a router; either way no echo reply comes back,
 * so only replies count. Resolves to undefined when not even `minMtu` gets an answer (a peer that
 * drops ICMP): then nothing is known and the interface MTU stands.
 */
export async function probePathMtu(target: string, opts: PathMtuProbeOptions): Promise<number | undefined> {
  const minMtu = opts.minMtu ?? 576;
  const timeoutMs = opts.timeoutMs ?? 250;
  const socket = raw.createSocket({ protocol: raw.Protocol.ICMP });
  socket.setOption(raw.SocketLevel.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_PROBE);
  const identifier = randomInt(0, 65_536);
  let sequence = 0;
  const waiting = new Map<number, () => void>();
  socket.on('message', (buffer: Buffer) => {
    // Raw IPv4 sockets deliver the IP header too.
    const headerLength = ((buffer[0] ?? 0) & 0x0f) * 4;
    if (buffer[headerLength] !== ECHO_REPLY || buffer.readUInt16BE(headerLength + 4) !== identifier) {
      return;
    }
    waiting.get(buffer.readUInt16BE(headerLength + 6))?.();
  });

  /**
   * A size fits when any of a few echoes of it comes back: a single reply lost to a busy peer
   * must not shrink the overlay's MTU (which would touch every interface of the network).
   */
  const fits = async (size: number): Promise<boolean> => {
    for (let attempt = 0; attempt < ATTEMPTS_PER_SIZE; attempt++) {
      if (await echoOnce(size)) {
        return true;
      }
    }
    return false;
  };

  const echoOnce = (size: number): Promise<boolean> => {
    sequence = (sequence + 1) & 0xffff;
    const seq = sequence;
    const packet = Buffer.alloc(size - IP_HEADER);
    packet[0] = ECHO_REQUEST;
    packet.writeUInt16BE(identifier, 4);
    packet.writeUInt16BE(seq, 6);
    raw.writeChecksum(packet, 2, raw.createChecksum(packet));
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        waiting.delete(seq);
        resolve(ok);
      };
      waiting.set(seq, () => finish(true));
      socket.send(packet, 0, packet.length, target, (err: Error | null) => {
        // EMSGSIZE: larger than this host's own interface allows.
        if (err) {
          finish(false);
        }
      });
    });
  };

  try {
    if (await fits(opts.maxMtu)) {
      return opts.maxMtu;
    }
    let low = minMtu;
    let high = opts.maxMtu - 1;
    if (!(await fits(low))) {
      return undefined;
    }
    // Invariant: `low` fits, everything above `high` does not.
    while (low < high) {
      const mid = Math.ceil((low + high) / 2);
      if (await fits(mid)) {
        low = mid;
      } else {
        high = mid - 1;
      }
    }
    return low;
  } finally {
    socket.close();
  }
}

/** The worker's {@link PathMtuProbe}: raw ICMP from the daemon's namespace. */
export class RawSocketPathMtuProbe implements PathMtuProbe {
  readonly #maxMtu: number;

  constructor(maxMtu: number) {
    this.#maxMtu = maxMtu;
  }

  probe(peer: string): Promise<number | undefined> {
    return probePathMtu(peer, { maxMtu: this.#maxMtu });
  }
}

/** Bytes of ICMP payload in a probe of `mtu` bytes (what `ping -s` takes). */
export function pingPayloadFor(mtu: number): number {
  return mtu - IP_HEADER - ICMP_HEADER;
}
