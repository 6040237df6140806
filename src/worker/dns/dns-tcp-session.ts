import type { Socket } from 'node:net';

/** Answers one framed query: a response, or undefined to send nothing. Must not reject. */
export type TcpQueryResponder = (query: Buffer) => Buffer | undefined | Promise<Buffer | undefined>;

export interface DnsTcpSessionOptions {
  /** A connection with no traffic for this long is closed (RFC 7766 suggests seconds). */
  readonly idleMs: number;
  /** Queries answered concurrently per connection; reading pauses past it. */
  readonly maxPending: number;
  /** Called once per complete frame, before the responder. */
  readonly onQuery?: () => void;
  /** A zero-length frame: the connection is closed. */
  readonly onBadFrame?: () => void;
}

/**
 * Serves DNS over one TCP connection (RFC 7766): 2-byte length-prefixed frames, pipelined, answers
 * written as they complete (possibly out of order, matched by ID). Buffers at most one partial
 * frame (≤ 65,537 bytes) plus `maxPending` answers in progress. Errors from the peer end the
 * connection quietly.
 */
export function serveDnsTcp(socket: Socket, respond: TcpQueryResponder, opts: DnsTcpSessionOptions): void {
  let buffered: Buffer = Buffer.alloc(0);
  let pending = 0;
  socket.setNoDelay(true);
  socket.setTimeout(opts.idleMs, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  const write = (reply: Buffer | undefined): void => {
    if (reply === undefined || socket.destroyed) {
      return;
    }
    const frame = Buffer.allocUnsafe(2 + reply.length);
    frame.writeUInt16BE(reply.length, 0);
    reply.copy(frame, 2);
    socket.write(frame);
  };
  const settle = (reply: Buffer | undefined): void => {
    pending--;
    write(reply);
    if (pending < opts.maxPending && socket.isPaused()) {
      socket.resume();
    }
  };
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    // Each pass consumes one whole frame: at most buffered.length / 2 passes.
    while (buffered.length >= 2) {
      const len = buffered.readUInt16BE(0);
      if (len === 0) {
        opts.onBadFrame?.();
        socket.destroy();
        return;
      }
      if (buffered.length < 2 + len) {
        break;
      }
      const query = buffered.subarray(2, 2 + len);
      buffered = buffered.subarray(2 + len);
      opts.onQuery?.();
      const out = respond(query);
      if (out instanceof Promise) {
        pending++;
        out.then(settle, () => settle(undefined));
        if (pending >= opts.maxPending) {
          socket.pause();
        }
      } else {
        write(out);
      }
    }
    if (buffered.length > 0 && buffered.byteOffset > 0) {
      // Keep only the partial frame, not the whole chunk it came in.
      buffered = Buffer.from(buffered);
    }
  });
}
