import { connect } from 'node:net';

/**
 * Whether something accepts connections on a unix socket path: a live socket belongs to another
 * process and must not be taken over; a dead one is a leftover of a crash and may be replaced.
 */
export function socketIsLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
