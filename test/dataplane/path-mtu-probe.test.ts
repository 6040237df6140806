import { describe, expect, it } from 'vitest';
import { runCommand } from '../../src/common/run-command.js';
import { createTestHosts } from '../support/test-hosts.js';

describe('path-MTU probe (raw ICMP with DF)', () => {
  it('finds a narrower hop than the interface MTU, and gives up on a peer that does not answer', async () => {
    await using hosts = await createTestHosts({ count: 2 });
    // Host 1's port on the underlay switch takes 1400-byte frames at most; both interfaces say 1500.
    await runCommand('ip', ['-n', hosts.underlayNetns, 'link', 'set', hosts.host(1).underlayPort, 'mtu', '1400']);
    const probe = (target: string) =>
      hosts.exec(0, process.execPath, [
        '--import',
        'tsx',
        '-e',
        `import('./src/worker/path-mtu-probe.ts').then(async (m) => console.log(String(await m.probePathMtu('${target}', { maxMtu: 1500, timeoutMs: 150 }))))`,
      ]);
    expect((await probe(hosts.host(1).underlayIp)).stdout.trim()).toBe('1400');
    expect((await probe('198.51.100.99')).stdout.trim()).toBe('undefined');
  });
});
