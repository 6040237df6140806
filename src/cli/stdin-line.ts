import { createInterface } from 'node:readline';

/**
 * Reads one line from standard input, without its line ending; undefined at end of input. The
 * reader is closed afterwards (as docker's prompt reads one line and stops), so a terminal or an
 * open pipe does not keep the process alive once the command is done.
 */
export function readStdinLine(): Promise<string | undefined> {
  return new Promise((resolve) => {
    const reader = createInterface({ input: process.stdin, terminal: false });
    reader.once('line', (line) => {
      resolve(line);
      reader.close();
    });
    // After a line this resolves again, which a settled promise ignores.
    reader.once('close', () => resolve(undefined));
  });
}
