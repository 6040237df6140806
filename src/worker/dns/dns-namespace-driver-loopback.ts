import { createSocket } from 'node:dgram';
import type { Socket as UdpSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';
import type { Server, Socket } from 'node:net';
import { UnavailableError } from '../../common/errors.js';
import type { DnsNamespaceDriver, ResolverSockets } from './dns-namespace-driver.js';

/**
 * An in-process driver for tests and benchmarks without namespaces: "namespaces" are only names;
 * every resolver binds 127.0.0.1 on an ephemeral port of this process's namespace (see
 * {@link portOf}), and upstream traffic leaves from this namespace. resolv.conf content is kept
 * in memory ({@link resolvConf}).
 */
export class LoopbackDnsDriver implements DnsNamespaceDriver {
  readonly #ports = new Map<string, number>();
  readonly #resolvConf = new Map<string, string>();
  /** Every `bindResolver` / `connectTcp` call, for assertions. */
  bindCalls = 0;
  tcpConnects = 0;

  async bindResolver(namespace: string, signal?: AbortSignal): Promise<ResolverSockets> {
    signal?.throwIfAborted();
    this.bindCalls++;
    const udp = await bindUdp('udp4', '127.0.0.1', 0);
    const port = udp.address().port;
    let tcp: Server;
    try {
      tcp = await new Promise<Server>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen({ host: '127.0.0.1', port }, () => resolve(s));
      });
    } catch (err) {
      udp.close();
      throw new UnavailableError(`cannot listen on 127.0.0.1:${port}`, { cause: err });
    }
    const upstream4 = await bindUdp('udp4', '0.0.0.0', 0);
    const upstream6 = await bindUdp('udp6', '::', 0).catch(() => undefined);
    this.#ports.set(namespace, port);
    return { udp, tcp, upstream4, upstream6 };
  }

  connectTcp(_namespace: string, address: string, port: number, signal?: AbortSignal): Promise<Socket> {
    signal?.throwIfAborted();
    this.tcpConnects++;
    return new Promise((resolve, reject) => {
      const s = connect({ host: address, port });
      s.once('error', (err) => reject(new UnavailableError(`cannot connect to ${address}:${port}`, { cause: err })));
      s.once('connect', () => resolve(s));
    });
  }

  writeResolvConf(namespace: string, content: string): Promise<void> {
    this.#resolvConf.set(namespace, content);
    return Promise.resolve();
  }

  /** Port the resolver of `namespace` listens on (UDP and TCP, 127.0.0.1); undefined before binding. */
  portOf(namespace: string): number | undefined {
    return this.#ports.get(namespace);
  }

  /** Last resolv.conf written for `namespace`. */
  resolvConf(namespace: string): string | undefined {
    return this.#resolvConf.get(namespace);
  }
}

function bindUdp(type: 'udp4' | 'udp6', address: string, port: number): Promise<UdpSocket> {
  return new Promise((resolve, reject) => {
    const s = createSocket(type === 'udp6' ? { type, ipv6Only: true } : { type });
    s.once('error', (err) => {
      s.close();
      reject(err);
    });
    s.bind({ address, port }, () => resolve(s));
  });
}
