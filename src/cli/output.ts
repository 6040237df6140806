/**
 * The one place the CLI writes to. Commands receive an `Output` instead of touching
 * `process.stdout`, so tests can run the whole program in-process and capture what it prints.
 */
export interface Output {
  /** Writes `text` to standard output as is (callers add the newline). */
  out(text: string): void;
  /** Writes `text` to standard error as is (callers add the newline). */
  err(text: string): void;
}

/** Writes to the real process streams. */
export const processOutput: Output = {
  out: (text) => {
    process.stdout.write(text);
  },
  err: (text) => {
    process.stderr.write(text);
  },
};
