// The parts of raw-socket (no published types) that vxmesh uses.
declare module 'raw-socket' {
  import type { EventEmitter } from 'node:events';

  interface RawSocket extends EventEmitter {
    setOption(level: number, option: number, value: number): void;
    send(
      buffer: Buffer,
      offset: number,
      length: number,
      address: string,
      afterCallback: (error: Error | null, bytes: number) => void,
    ): void;
    close(): void;
    on(event: 'message', listener: (buffer: Buffer, source: string) => void): this;
    on(event: 'error', listener: (error: Error) => void): this;
  }

  interface RawSocketModule {
    createSocket(options: { protocol: number }): RawSocket;
    Protocol: { readonly ICMP: number; readonly ICMPv6: number };
    SocketLevel: { readonly IPPROTO_IP: number; readonly SOL_SOCKET: number; readonly IPPROTO_IPV6: number };
    createChecksum(...buffers: Buffer[]): number;
    writeChecksum(buffer: Buffer, offset: number, checksum: number): Buffer;
  }

  const raw: RawSocketModule;
  export default raw;
}
