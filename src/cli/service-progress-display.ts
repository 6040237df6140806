/** ANSI: erase the whole line the cursor is on. */
const CLEAR_LINE = '\x1b[2K';

interface BoardLine {
  readonly id: string;
  text: string;
}

/**
 * The lines of docker's service progress (moby jsonmessage): one line per ID ("overall
 * progress", "1/3", "verify"), in the order the IDs first appear, each "<id>: <text>".
 *
 * On a terminal the board is redrawn in place, as docker does: a changed line is rewritten by
 * moving the cursor up to it and back. Anywhere else (a pipe, a file, CI logs) a line is printed,
 * plainly, each time its text changes, and never while it is empty, so logs read top to bottom.
 * Lines that have not changed are never written again in either mode.
 */
export class ProgressDisplay {
  private lines: BoardLine[] = [];

  /**
   * @param write where the text goes (stdout); a no-op for `--quiet`.
   * @param terminal whether `write` reaches a terminal that understands ANSI cursor movement.
   */
  constructor(
    private readonly write: (text: string) => void,
    private readonly terminal: boolean,
  ) {}

  /** Sets the line of `id` to `text` ("" reserves the line's place, shown as "<id>: " on a terminal). */
  set(id: string, text: string): void {
    const shown = `${id}: ${text}`.trimEnd();
    const at = this.lines.findIndex((line) => line.id === id);
    const line = this.lines[at];
    if (line === undefined) {
      this.lines.push({ id, text });
      if (this.terminal || text.trim() !== '') {
        this.write(`${shown}\n`);
      }
      return;
    }
    if (line.text === text) {
      return;
    }
    line.text = text;
    if (!this.terminal) {
      if (text.trim() !== '') {
        this.write(`${shown}\n`);
      }
      return;
    }
    // The cursor rests at the start of the line below the board.
    const up = this.lines.length - at;
    this.write(`\x1b[${up}A\r${CLEAR_LINE}${shown}\x1b[${up}B\r`);
  }

  /**
   * A line without ID below the board ("Operation continuing in background."). Like docker, it
   * starts a new board: later lines are not redrawn above it.
   */
  message(text: string): void {
    this.write(`${text}\n`);
    this.lines = [];
  }
}
