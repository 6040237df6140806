import { describe, expect, it } from 'vitest';
import { parseBatchErrors } from '../../../src/vxlan/batch-errors.js';

describe('parseBatchErrors', () => {
  const lines = ['link set dev nope up', 'addr add 10.0.1.1/24 dev br0', 'link set dev br0 up'];

  it.each([
    ['no errors', '', []],
    [
      'errors of -force batches, each before its marker',
      'Cannot find device "nope"\nCommand failed -:1\nError: ipv4: Address already assigned.\nCommand failed -:2\n',
      [
        { line: 1, command: 'link set dev nope up', message: 'Cannot find device "nope"' },
        { line: 2, command: 'addr add 10.0.1.1/24 dev br0', message: 'Error: ipv4: Address already assigned.' },
      ],
    ],
    ['a marker without a message', 'Command failed -:3\n', [{ line: 3, command: 'link set dev br0 up', message: 'failed' }]],
    ['text without a marker (the tool died)', 'Segmentation fault\n', [{ line: 0, command: '', message: 'Segmentation fault' }]],
    ['a line number out of range', 'x\nCommand failed -:9\n', [{ line: 9, command: '', message: 'x' }]],
  ])('%s', (_name, stderr, expected) => {
    expect(parseBatchErrors(stderr, lines)).toEqual(expected);
  });
});
