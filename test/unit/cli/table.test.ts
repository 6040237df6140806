import { describe, expect, it } from 'vitest';
import { formatTable } from '../../../src/cli/table.js';

describe('formatTable', () => {
  it('pads every column but the last to the widest cell plus 3, at least 10', () => {
    const text = formatTable([
      ['NAME', 'A', 'LAST'],
      ['a-long-name', 'bb', 'x'],
    ]);
    expect(text).toBe('NAME          A         LAST\na-long-name   bb        x\n');
  });

  it('drops the trailing spaces of rows that end in empty cells', () => {
    expect(
      formatTable([
        ['ID', 'STATUS', 'MANAGER'],
        ['n1', 'Ready', ''],
      ]),
    ).toBe('ID        STATUS    MANAGER\nn1        Ready\n');
  });

  it('counts code points, not UTF-16 units', () => {
    expect(
      formatTable([
        ['𝔁𝔁𝔁𝔁𝔁𝔁𝔁𝔁', 'b'],
        ['a', 'c'],
      ]),
    ).toBe('𝔁𝔁𝔁𝔁𝔁𝔁𝔁𝔁   b\na          c\n');
  });

  it('prints nothing for no rows', () => {
    expect(formatTable([])).toBe('');
  });
});
