import { describe, expect, it } from 'vitest';
import { ProcessCommandRunner } from '../../../src/vxlan/command-runner-process.js';
import type { CommandScope, KernelTool } from '../../../src/vxlan/command-runner.js';

describe('ProcessCommandRunner.argv', () => {
  const plain = new ProcessCommandRunner();
  const hosted = new ProcessCommandRunner({ baseNamespace: 'host0' });
  const daemon: CommandScope = { kind: 'daemon' };
  const registry: CommandScope = { kind: 'registry' };
  const ov: CommandScope = { kind: 'netns', name: 'ov' };

  it.each<[string, ProcessCommandRunner, KernelTool, CommandScope, string[]]>([
    ['ip in the own namespace', plain, 'ip', daemon, ['ip', 'link']],
    ['ip in the base namespace', hosted, 'ip', daemon, ['ip', '-n', 'host0', 'link']],
    ['bridge in a named namespace', hosted, 'bridge', ov, ['bridge', '-n', 'ov', 'link']],
    ['nft in the base namespace goes through ip netns exec', hosted, 'nft', daemon, ['ip', 'netns', 'exec', 'host0', 'nft', 'link']],
    ['sysctl in a named namespace', plain, 'sysctl', ov, ['ip', 'netns', 'exec', 'ov', 'sysctl', 'link']],
    ['registry commands never switch namespace', hosted, 'ip', registry, ['ip', 'link']],
  ])('%s', (_name, runner, tool, scope, expected) => {
    expect(runner.argv({ tool, scope, args: ['link'] })).toEqual(expected);
  });

  it('reports a non-zero exit as data and a missing tool as a rejection', async () => {
    const r = await plain.run({ tool: 'ip', scope: daemon, args: ['-j', 'link', 'show', 'dev', 'no-such-link-xyz'] });
    expect(r.exitCode).not.toBe(0);
    expect(r.stderr).toMatch(/does not exist|Cannot find/);
    const missing = new ProcessCommandRunner({ toolDir: '/nonexistent' });
    await expect(missing.run({ tool: 'ip', scope: daemon, args: [] })).rejects.toThrow(/ENOENT/);
  });
});
