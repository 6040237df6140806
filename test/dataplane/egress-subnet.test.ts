import { describe, expect, it } from 'vitest';
import { createTestHosts } from '../support/test-hosts.js';

describe('egress subnet choice', () => {
  it('takes 172.18.0.0/16 when free and steps past a subnet a route already uses (e.g. Docker)', async () => {
    await using hosts = await createTestHosts({ count: 1 });
    const choose = async (): Promise<string> =>
      (
        await hosts.exec(0, process.execPath, [
          '--import',
          'tsx',
          '-e',
          "import('./src/worker/egress-subnet.ts').then(async (m) => console.log((await m.chooseEgressSubnet('vx_gwbridge')).subnet))",
        ])
      ).stdout.trim();
    expect(await choose()).toBe('172.18.0.0/16');
    await hosts.exec(0, 'ip', ['link', 'add', 'docker_gwbridge', 'type', 'bridge']);
    await hosts.exec(0, 'ip', ['addr', 'add', '172.18.0.1/16', 'dev', 'docker_gwbridge']);
    await hosts.exec(0, 'ip', ['link', 'set', 'docker_gwbridge', 'up']);
    expect(await choose()).toBe('172.19.0.0/16');
    // Our own bridge from before a restart does not count as a conflict.
    await hosts.exec(0, 'ip', ['link', 'add', 'vx_gwbridge', 'type', 'bridge']);
    await hosts.exec(0, 'ip', ['addr', 'add', '172.19.0.1/16', 'dev', 'vx_gwbridge']);
    await hosts.exec(0, 'ip', ['link', 'set', 'vx_gwbridge', 'up']);
    expect(await choose()).toBe('172.19.0.0/16');
  });
});
