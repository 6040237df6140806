/** How {@link formatTable} pads columns. */
export interface TableLayout {
  /** Minimum width of a column, padding included. */
  readonly minWidth: number;
  /** Spaces after the widest cell of a column. */
  readonly padding: number;
}

/** What the docker CLI passes to Go's tabwriter for every table (`NewWriter(out, 10, 1, 3, ' ', 0)`). */
export const DOCKER_TABLE_LAYOUT: TableLayout = { minWidth: 10, padding: 3 };

/**
 * Lays rows out the way Go's tabwriter does for docker: every column but the last is padded to
 * max(widest cell + padding, minWidth); the last column is not padded. Widths count code points,
 * like tabwriter counts runes. Trailing spaces (a row whose last cells are empty) are dropped so
 * output stays grep- and diff-friendly; the visible layout is unchanged.
 * @returns one line per row, each ending in "\n"; "" for no rows.
 */
export function formatTable(rows: readonly (readonly string[])[], layout: TableLayout = DOCKER_TABLE_LAYOUT): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) {
        widths[i] = Math.max(widths[i] ?? 0, layout.minWidth - layout.padding, textWidth(cell));
      }
    });
  }
  return rows
    .map((row) => {
      const cells = row.map((cell, i) =>
        i < row.length - 1 ? cell + ' '.repeat((widths[i] ?? 0) + layout.padding - textWidth(cell)) : cell,
      );
      return `${cells.join('').trimEnd()}\n`;
    })
    .join('');
}

function textWidth(text: string): number {
  return [...text].length;
}
