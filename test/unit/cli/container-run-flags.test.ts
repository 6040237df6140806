import { Command, InvalidArgumentError as FlagValueError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  parseAliasFlag,
  parseContainerName,
  parseDnsFlag,
  parseDnsOptionFlag,
  parseDnsSearchFlag,
  parseIpv4Flag,
  parseIpv6Flag,
  parseLinkFlag,
  parseNetworkFlag,
  parseStopTimeout,
} from '../../../src/cli/container-flag-values.js';
import { containerNetworkRequest, runContainerRequest } from '../../../src/cli/container-requests.js';
import { separateOperands, stopOptionsAtFirstOperand } from '../../../src/cli/operand-separator.js';
import { InvalidArgumentError } from '../../../src/common/errors.js';

describe('container flag values', () => {
  it('accepts docker container names and refuses others', () => {
    expect(parseContainerName('web-1.a_b')).toBe('web-1.a_b');
    for (const bad of ['', '-web', '.web', 'we b', 'web/1', 'wéb']) {
      expect(() => parseContainerName(bad), bad).toThrow(FlagValueError);
    }
  });

  it('takes --ip as IPv4 only and --ip6 as IPv6 only, without prefix or zone', () => {
    expect(parseIpv4Flag('10.0.1.10')).toBe('10.0.1.10');
    expect(parseIpv6Flag('fd00:1::10')).toBe('fd00:1::10');
    for (const bad of ['fd00::1', '10.0.1.10/24', '10.0.1', 'web']) {
      expect(() => parseIpv4Flag(bad), bad).toThrow('Not an IPv4 address such as 10.0.1.10.');
    }
    for (const bad of ['10.0.1.10', 'fe80::1%eth0', 'fd00::/64']) {
      expect(() => parseIpv6Flag(bad), bad).toThrow('Not an IPv6 address such as fd00:1::10.');
    }
  });

  it('accumulates --dns (either family), --network and aliases', () => {
    expect(parseDnsFlag('fd00::53', parseDnsFlag('10.0.0.2', undefined))).toEqual(['10.0.0.2', 'fd00::53']);
    expect(() => parseDnsFlag('dns.example', undefined)).toThrow(FlagValueError);
    expect(parseNetworkFlag('b', ['a'])).toEqual(['a', 'b']);
    expect(() => parseNetworkFlag(' ', undefined)).toThrow(FlagValueError);
    expect(parseAliasFlag('db', ['app'])).toEqual(['app', 'db']);
    expect(() => parseAliasFlag('a b', undefined)).toThrow(FlagValueError);
    expect(() => parseAliasFlag('', undefined)).toThrow(FlagValueError);
  });

  it('checks --dns-search as docker’s ValidateDNSSearch and accumulates it', () => {
    expect(parseDnsSearchFlag('corp.example.', parseDnsSearchFlag('example.com', undefined))).toEqual([
      'example.com',
      'corp.example',
    ]);
    expect(parseDnsSearchFlag('.', undefined)).toEqual(['.']);
    expect(parseDnsSearchFlag(' svc.local ', undefined)).toEqual(['svc.local']);
    for (const bad of ['', '..', '-a.com', 'a..b', 'a b', 'a\nb', '123.45', `${'a'.repeat(255)}`]) {
      expect(() => parseDnsSearchFlag(bad, undefined), JSON.stringify(bad)).toThrow(FlagValueError);
    }
  });

  it('takes any one-word --dns-option and accumulates it', () => {
    expect(parseDnsOptionFlag('edns0', parseDnsOptionFlag('ndots:2', undefined))).toEqual(['ndots:2', 'edns0']);
    for (const bad of ['', 'ndots: 2', 'a\nnameserver 1.1.1.1']) {
      expect(() => parseDnsOptionFlag(bad, undefined), JSON.stringify(bad)).toThrow(FlagValueError);
    }
  });

  it('reads --link as docker’s ParseLink and records NAME:ALIAS', () => {
    expect(parseLinkFlag('db:database', undefined)).toEqual(['db:database']);
    expect(parseLinkFlag('db', ['x:y'])).toEqual(['x:y', 'db:db']);
    expect(parseLinkFlag('/db:database', undefined)).toEqual(['db:database']);
    for (const bad of ['', ':alias', 'db:', 'a:b:c', 'd b:x', 'db:da ta']) {
      expect(() => parseLinkFlag(bad, undefined), bad).toThrow('Expected NAME:ALIAS or NAME, such as db:database.');
    }
  });

  it('takes stop -t as whole seconds from 1 (0 would mean the daemon default)', () => {
    expect(parseStopTimeout('1')).toBe(1);
    expect(parseStopTimeout('4294967295')).toBe(4_294_967_295);
    for (const bad of ['0', '-1', '1.5', '4294967296', 'ten', '']) {
      expect(() => parseStopTimeout(bad), bad).toThrow(FlagValueError);
    }
  });
});

describe('runContainerRequest', () => {
  it('puts --ip, --ip6, --network-alias and --link on the first --network only', () => {
    expect(
      runContainerRequest(
        {
          name: 'web',
          network: ['appnet', 'backend2'],
          ip: '10.0.1.10',
          ip6: 'fd00:1::10',
          networkAlias: ['app'],
          link: ['db:database'],
          hostname: 'web-host',
          dns: ['10.0.0.2'],
          dnsSearch: ['example.com'],
          dnsOption: ['ndots:2', 'edns0'],
          rm: true,
          detach: true,
        },
        ['sh', '-c', 'sleep 1000'],
      ),
    ).toEqual({
      name: 'web',
      hostname: 'web-host',
      command: ['sh', '-c', 'sleep 1000'],
      networks: [
        {
          network: 'appnet',
          ipv4Address: '10.0.1.10',
          ipv6Address: 'fd00:1::10',
          aliases: ['app'],
          links: ['db:database'],
        },
        { network: 'backend2', ipv4Address: '', ipv6Address: '', aliases: [], links: [] },
      ],
      dns: ['10.0.0.2'],
      dnsSearch: ['example.com'],
      dnsOptions: ['ndots:2', 'edns0'],
      autoRemove: true,
      createOnly: false,
    });
  });

  it('runs without networks (loopback only) and defaults everything else', () => {
    expect(runContainerRequest({ name: 'solo', createOnly: true }, ['true'])).toEqual({
      name: 'solo',
      hostname: '',
      command: ['true'],
      networks: [],
      dns: [],
      dnsSearch: [],
      dnsOptions: [],
      autoRemove: false,
      createOnly: true,
    });
  });

  it.each([
    [{ ip: '10.0.1.10' }, 'invalid --ip: needs a --network to apply to (it applies to the first one)'],
    [{ ip6: 'fd00::1' }, 'invalid --ip6: needs a --network'],
    [{ networkAlias: ['app'] }, 'invalid --network-alias: needs a --network'],
    [{ link: ['db:db'] }, 'invalid --link: needs a --network'],
  ])('refuses %j without a --network', (flags, message) => {
    expect(() => runContainerRequest({ name: 'web', ...flags }, ['true'])).toThrow(message);
  });

  it('refuses a network given twice and a missing command', () => {
    expect(() => runContainerRequest({ name: 'web', network: ['a', 'b', 'a'] }, ['true'])).toThrow(
      'invalid --network: network "a" is specified multiple times',
    );
    expect(() => runContainerRequest({ name: 'web' }, [])).toThrow(InvalidArgumentError);
  });

  it('builds network connect requests', () => {
    expect(containerNetworkRequest('appnet', { ip: '10.0.1.9', aliases: ['a'], links: undefined })).toEqual({
      network: 'appnet',
      ipv4Address: '10.0.1.9',
      ipv6Address: '',
      aliases: ['a'],
      links: [],
    });
  });
});

describe('separateOperands', () => {
  /** A program shaped like vxmesh's: a global -H, a `run` that stops at its first operand, and a group. */
  function program(): Command {
    const root = new Command('vxmesh').option('-H, --host <addr>').option('--debug');
    stopOptionsAtFirstOperand(
      root
        .command('run')
        .helpOption('--help')
        .option('-d, --detach')
        .option('--name <name>')
        .option('-h, --hostname <name>')
        .option('-t, --tag [value]')
        .argument('[command...]'),
    );
    root.command('network').command('ls').option('-q');
    return root;
  }

  it.each([
    [
      ['run', 'sleep', '1'],
      ['run', '--', 'sleep', '1'],
    ],
    [
      ['-H', 'unix:///x', 'run', '--name', 'web', '-d', 'sh', '-c', 'ls -H'],
      ['-H', 'unix:///x', 'run', '--name', 'web', '-d', '--', 'sh', '-c', 'ls -H'],
    ],
    [
      ['run', '--name=web', '-dh', 'host', 'ls', '-l'],
      ['run', '--name=web', '-dh', 'host', '--', 'ls', '-l'],
    ],
    [
      ['run', '-hhost', '-H', 'unix:///x', 'ls'],
      ['run', '-hhost', '-H', 'unix:///x', '--', 'ls'],
    ],
    // An optional value is the next argument unless that looks like an option, as commander reads it.
    [
      ['run', '-t', 'v', 'ls', '-l'],
      ['run', '-t', 'v', '--', 'ls', '-l'],
    ],
    [
      ['run', '-t', '-d', 'ls'],
      ['run', '-t', '-d', '--', 'ls'],
    ],
    [
      ['run', '--bogus', 'ls', '-l'],
      ['run', '--bogus', '--', 'ls', '-l'],
    ],
  ])('inserts "--" before the first operand of run: %j', (argv, expected) => {
    expect(separateOperands(program(), argv)).toEqual(expected);
  });

  it.each([
    [['run', '--name', 'web', '--', 'ls', '-l']],
    [['run', '--name', 'web']],
    [['network', 'ls', '-q', '-H', 'unix:///x']],
    [['--debug', 'help', 'run']],
    [[]],
  ])('leaves %j alone', (argv) => {
    expect(separateOperands(program(), argv)).toEqual(argv);
  });
});
