import type { Socket } from 'node:net';
import { HEADER_BYTES } from './dns-wire.js';

/**
 * One query over an open TCP connection (RFC 7766 framing: 2-byte length prefix). Resolves with
 * the first complete response carrying the query's ID, or undefined on timeout, error or close.
 * Never rejects; always destroys the socket when done.
 */
export function exchangeOverTcp(socket: Socket, query: Buffer, timeoutMs: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const id = query.readUInt16BE(0);
    let buffered: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (reply: Buffer | undefined): void => {
      if (done) {
        return;
      }
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(reply);
    };
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    timer.unref();
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      // Each pass consumes one whole frame, so this ends within buffered.length / 2 passes.
      while (buffered.length >= 2) {
        const len = buffered.readUInt16BE(0);
        if (buffered.length < 2 + len) {
          return;
        }
        const frame = buffered.subarray(2, 2 + len);
        buffered = buffered.subarray(2 + len);
        if (frame.length >= HEADER_BYTES && frame.readUInt16BE(0) === id) {
          finish(Buffer.from(frame));
          return;
        }
      }
    });
    socket.on('error', () => finish(undefined));
    socket.on('close', () => finish(undefined));
    const prefix = Buffer.alloc(2);
    prefix.writeUInt16BE(query.length, 0);
    socket.write(Buffer.concat([prefix, query]));
  });
}
