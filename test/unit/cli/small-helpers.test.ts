import { describe, expect, it } from 'vitest';
import { DEFAULT_DAEMON_HOST, parseDaemonHost } from '../../../src/cli/daemon-address.js';
import { DaemonUnreachableError } from '../../../src/cli/daemon-client.js';
import { commanderErrorLine, errorLine } from '../../../src/cli/error-line.js';
import { hostPart } from '../../../src/common/net/host-part.js';
import { naturalCompare } from '../../../src/cli/natural-compare.js';
import { prettyTimeFromMillis, rfc3339FromMillis } from '../../../src/cli/time-text.js';
import { InvalidArgumentError } from '../../../src/common/errors.js';

describe('parseDaemonHost', () => {
  it('turns unix:// addresses into socket paths and grpc targets', () => {
    expect(parseDaemonHost(DEFAULT_DAEMON_HOST)).toEqual({
      display: DEFAULT_DAEMON_HOST,
      socketPath: '/run/vxmesh/vxmesh.sock',
      grpcTarget: 'unix:///run/vxmesh/vxmesh.sock',
    });
    expect(parseDaemonHost('unix://rel/d.sock').socketPath).toBe(`${process.cwd()}/rel/d.sock`);
  });

  it.each(['tcp://10.0.0.1:2375', '/run/vxmesh/vxmesh.sock', 'unix://', ''])('rejects %j naming the flag', (value) => {
    expect(() => parseDaemonHost(value)).toThrow(InvalidArgumentError);
    expect(() => parseDaemonHost(value)).toThrow(/^invalid -H\/--host: /);
  });
});

describe('error lines', () => {
  it('are one line, never a stack', () => {
    const err = new Error('first\n  second\n');
    expect(errorLine(err)).toBe('Error: first second\n');
    expect(errorLine('plain')).toBe('Error: plain\n');
    expect(errorLine(new Error(''))).toBe('Error: unknown error\n');
  });

  it('reword commander errors', () => {
    expect(commanderErrorLine("error: unknown command 'nod'\n(Did you mean node?)\n")).toBe(
      "Error: unknown command 'nod' (Did you mean node?)\n",
    );
  });
});

describe('hostPart', () => {
  it.each([
    ['10.0.0.1:2377', '10.0.0.1'],
    ['10.0.0.1', '10.0.0.1'],
    ['[fd00::1]:2377', 'fd00::1'],
    ['fd00::1', 'fd00::1'],
    ['', ''],
  ])('%s → %s', (address, host) => {
    expect(hostPart(address)).toBe(host);
  });
});

describe('naturalCompare', () => {
  it('orders digit runs by value', () => {
    const names = ['node10', 'node2', 'node1', 'alpha', 'node02', 'node2a', 'node'];
    // As Go's sortorder: equal numbers with fewer leading zeros decide at once ("node2a" < "node02").
    expect(names.sort(naturalCompare)).toEqual(['alpha', 'node', 'node1', 'node2', 'node2a', 'node02', 'node10']);
    expect(['n-1', 'n1', 'n.1'].sort(naturalCompare)).toEqual(['n1', 'n-1', 'n.1']);
    expect(naturalCompare('a99999999999999999999', 'a100000000000000000000')).toBeLessThan(0);
  });
});

describe('times', () => {
  it('print like Go, dropping fraction zeros', () => {
    expect(rfc3339FromMillis(1_715_899_964_990n)).toBe('2024-05-16T22:52:44.99Z');
    expect(rfc3339FromMillis(1_715_899_964_000n)).toBe('2024-05-16T22:52:44Z');
    expect(rfc3339FromMillis(0n)).toBe('0001-01-01T00:00:00Z');
    expect(prettyTimeFromMillis(1_715_899_964_500n)).toBe('2024-05-16 22:52:44.5 +0000 utc');
  });
});

describe('DaemonUnreachableError', () => {
  const address = parseDaemonHost('unix:///run/vxmesh/vxmesh.sock');

  it('asks whether the daemon runs, or says the socket needs root', () => {
    expect(new DaemonUnreachableError(address, 'ENOENT').message).toBe(
      'cannot connect to the vxmesh daemon at unix:///run/vxmesh/vxmesh.sock: is vxmeshd running?',
    );
    expect(new DaemonUnreachableError(address, 'ECONNREFUSED').code).toBe('UNAVAILABLE');
    expect(new DaemonUnreachableError(address, 'EACCES').message).toBe(
      'permission denied while connecting to the vxmesh daemon at unix:///run/vxmesh/vxmesh.sock: run vxmesh as root',
    );
  });
});
