import { createInterface } from 'node:readline';

/**
 * Reads one line from standard input, without its line ending; undefined at end of input.
 * Afterwards the reader is closed (as docker's prompt reads one line and stops) and stdin's handle
 * unref'd: closing only pauses the stream, and a paused pipe or terminal that is still open would
 * otherwise keep the process alive after the command is done.
 */
export function readStdinLine(): Promise<string | undefined> {
  const stdin = process.stdin;
  // A stream that has ended emits nothing more, so a reader on it would wait forever.
  if (stdin.readableEnded || stdin.destroyed) {
    return Promise.resolve(undefined);
  }
  // A file on stdin is an fs stream without ref/unref; a pipe or terminal is a net.Socket.
  stdin.ref?.();
  return new Promise((resolve) => {
    const reader = createInterface({ input: stdin, terminal: false });
    reader.once('line', (line) => {
      resolve(line);
      reader.close();
    });
    reader.once('close', () => {
      stdin.unref?.();
      // After a line this resolves again, which a settled promise ignores.
      resolve(undefined);
    });
  });
}
