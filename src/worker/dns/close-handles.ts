import { Socket } from 'node:net';
import type { Server } from 'node:net';
import type { Socket as UdpSocket } from 'node:dgram';

/** Closes sockets and servers, ignoring ones already closed (only used on teardown paths). */
export function closeHandles(handles: Iterable<UdpSocket | Server | Socket>): void {
  for (const h of handles) {
    try {
      if (h instanceof Socket) {
        h.destroy();
      } else {
        h.close();
      }
    } catch {
      // Already closed: nothing left to release.
    }
  }
}
