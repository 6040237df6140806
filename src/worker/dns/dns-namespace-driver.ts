import type { Socket as UdpSocket } from 'node:dgram';
import type { Server, Socket } from 'node:net';

/** The sockets of one container's resolver, all living in the container's network namespace. */
export interface ResolverSockets {
  /** UDP, bound to 127.0.0.11:53 (or wherever the driver puts the resolver). */
  readonly udp: UdpSocket;
  /** TCP, listening on the same address and port. */
  readonly tcp: Server;
  /** UDP bound to an ephemeral port on 0.0.0.0, for queries to IPv4 upstream servers. */
  readonly upstream4: UdpSocket | undefined;
  /** UDP bound to an ephemeral port on ::; undefined when the namespace has no IPv6. */
  readonly upstream6: UdpSocket | undefined;
}

/**
 * Kernel side of the embedded DNS (STYLE 9): everything that must happen inside a container's
 * network namespace. The agent process cannot enter a namespace itself, so implementations hand
 * sockets created there to the agent. Every method may be called concurrently.
 */
export interface DnsNamespaceDriver {
  /**
   * Creates the resolver's sockets inside `namespace`. Each call creates new sockets, owned by the
   * caller, who closes them; binding again while an earlier set is open fails (address in use).
   * On failure nothing is left open.
   * @throws VxmeshError('UNAVAILABLE') when the namespace is missing or the sockets cannot be
   *   bound, or when `signal` aborts.
   */
  bindResolver(namespace: string, signal?: AbortSignal): Promise<ResolverSockets>;

  /**
   * Opens a TCP connection to `address`:`port` from inside `namespace` (upstream TCP fallback).
   * The caller owns and destroys the socket.
   * @throws VxmeshError('UNAVAILABLE') when the connection fails or `signal` aborts.
   */
  connectTcp(namespace: string, address: string, port: number, signal?: AbortSignal): Promise<Socket>;

  /**
   * Writes the resolv.conf processes of the namespace see (`/etc/netns/<ns>/resolv.conf`, which
   * `ip netns exec` bind-mounts over /etc/resolv.conf). Idempotent; replaces any earlier content.
   */
  writeResolvConf(namespace: string, content: string): Promise<void>;
}
