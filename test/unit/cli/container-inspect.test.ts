import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dockerContainerJson, formatContainerInspect } from '../../../src/cli/container-inspect-json.js';
import { Container, ContainerNetwork, ContainerState } from '../../../src/gen/vxmesh/v1/container.js';
import { FRESH_ID, JOB_ID, WEB_ID, containerView } from '../../cli/container-fixtures.js';

// `inspect` of the fixture containers checked field by field, and byte for byte, against a stored
// document in docker's container-inspect shape (moby api/types/container and network/endpoint.go,
// docker 29 field order), reviewed by hand: a running container on two networks with --ip,
// aliases and a link; an exited one whose attachment keeps only its configuration; a created one.

const EXPECTED_TEXT = readFileSync(
  new URL('../../cli/fixtures/container-inspect-expected.json', import.meta.url),
  'utf8',
);
const EXPECTED = JSON.parse(EXPECTED_TEXT) as Record<string, unknown>[];
const IDS = [WEB_ID, JOB_ID, FRESH_ID];

function printed(): Record<string, unknown>[] {
  return JSON.parse(formatContainerInspect(IDS.map((id) => dockerContainerJson(containerView(id))))) as Record<
    string,
    unknown
  >[];
}

describe('inspect against the stored expected document', () => {
  const actual = printed();

  it('has one entry per container, in the order asked', () => {
    expect(actual.map((c) => c['Name'])).toEqual(['/web', '/job', '/fresh']);
    expect(actual).toHaveLength(EXPECTED.length);
  });

  describe.each(EXPECTED.map((doc, i) => [String(doc['Name']), i] as const))('%s', (_name, i) => {
    const expected = EXPECTED[i] ?? {};
    const got = actual[i] ?? {};

    it('has docker fields in docker order, and no others', () => {
      expect(Object.keys(got)).toEqual(Object.keys(expected));
    });

    it.each(Object.keys(expected))('%s', (field) => {
      expect(got[field], field).toEqual(expected[field]);
    });
  });

  it('prints the document byte for byte: 4-space indent, trailing newline', () => {
    expect(formatContainerInspect(IDS.map((id) => dockerContainerJson(containerView(id))))).toBe(EXPECTED_TEXT);
  });

  it('prints the same array compact on one line with --format json', () => {
    const compact = formatContainerInspect([dockerContainerJson(containerView(WEB_ID))], true);
    expect(compact.endsWith('\n')).toBe(true);
    expect(compact.trimEnd()).not.toContain('\n');
    expect(JSON.parse(compact)).toEqual([EXPECTED[0]]);
  });
});

describe('dockerContainerJson', () => {
  const base = Container.create({
    id: 'f'.repeat(64),
    name: 'six',
    hostname: 'six-host',
    command: ['sleep', '1'],
    state: ContainerState.CONTAINER_STATE_RUNNING,
    namespace: 'vxm-c-ffffffffffff',
  });

  it('lists endpoint settings in docker 29 order', () => {
    const json = dockerContainerJson({
      ...base,
      networks: [ContainerNetwork.create({ networkId: 'n1', networkName: 'net', endpointId: 'e1' })],
    });
    expect(Object.keys(json.NetworkSettings.Networks['net'] ?? {})).toEqual([
      'IPAMConfig',
      'Links',
      'Aliases',
      'DriverOpts',
      'GwPriority',
      'NetworkID',
      'EndpointID',
      'Gateway',
      'IPAddress',
      'MacAddress',
      'IPPrefixLen',
      'IPv6Gateway',
      'GlobalIPv6Address',
      'GlobalIPv6PrefixLen',
      'DNSNames',
    ]);
  });

  it('builds DNSNames as docker does: name, aliases, short ID, hostname, without repeats', () => {
    const json = dockerContainerJson({
      ...base,
      networks: [ContainerNetwork.create({ networkId: 'n1', networkName: 'net', aliases: ['app', 'six', 'app'] })],
    });
    expect(json.NetworkSettings.Networks['net']?.DNSNames).toEqual(['six', 'app', 'ffffffffffff', 'six-host']);
  });

  it('shows each network’s own aliases (--network-alias on one, connect --alias on another)', () => {
    const json = dockerContainerJson({
      ...base,
      networks: [
        ContainerNetwork.create({ networkId: 'n1', networkName: 'front', endpointId: 'e1', aliases: ['app'] }),
        ContainerNetwork.create({ networkId: 'n2', networkName: 'back', endpointId: 'e2', aliases: ['scoped-app'] }),
        ContainerNetwork.create({ networkId: 'n3', networkName: 'plain', endpointId: 'e3' }),
      ],
    });
    expect(json.NetworkSettings.Networks['front']?.Aliases).toEqual(['app']);
    expect(json.NetworkSettings.Networks['back']?.Aliases).toEqual(['scoped-app']);
    expect(json.NetworkSettings.Networks['plain']?.Aliases).toBeNull();
  });

  it('shows --dns, --dns-option and --dns-search under HostConfig in docker’s order', () => {
    const json = dockerContainerJson({
      ...base,
      dns: ['10.0.0.2'],
      dnsSearch: ['example.com'],
      dnsOptions: ['ndots:2'],
    });
    expect(json.HostConfig).toEqual({
      AutoRemove: false,
      Dns: ['10.0.0.2'],
      DnsOptions: ['ndots:2'],
      DnsSearch: ['example.com'],
    });
    expect(Object.keys(json.HostConfig)).toEqual(['AutoRemove', 'Dns', 'DnsOptions', 'DnsSearch']);
  });

  it('shows only the requested addresses in IPAMConfig, IPv6 alone included', () => {
    const json = dockerContainerJson({
      ...base,
      networks: [ContainerNetwork.create({ networkId: 'n1', networkName: 'net', requestedIpv6: 'fd00::9' })],
    });
    expect(json.NetworkSettings.Networks['net']?.IPAMConfig).toEqual({ IPv6Address: 'fd00::9' });
  });

  it('puts an IPv6 gateway under IPv6Gateway', () => {
    const json = dockerContainerJson({
      ...base,
      networks: [
        ContainerNetwork.create({
          networkId: 'n6',
          networkName: 'v6only',
          endpointId: 'e6',
          ipv6Address: 'fd00:6::5/64',
          gateway: 'fd00:6::1',
        }),
      ],
    });
    expect(json.NetworkSettings.Networks['v6only']).toMatchObject({
      Gateway: '',
      IPv6Gateway: 'fd00:6::1',
      IPAddress: '',
      IPPrefixLen: 0,
      GlobalIPv6Address: 'fd00:6::5',
      GlobalIPv6PrefixLen: 64,
    });
  });

  it('keys networks by name in Go map order, falling back to the ID when the name is unknown', () => {
    const json = dockerContainerJson({
      ...base,
      networks: [
        ContainerNetwork.create({ networkId: 'n2', networkName: 'zeta' }),
        ContainerNetwork.create({ networkId: 'n3', networkName: '' }),
        ContainerNetwork.create({ networkId: 'n1', networkName: 'Alpha' }),
      ],
    });
    expect(Object.keys(json.NetworkSettings.Networks)).toEqual(['Alpha', 'n3', 'zeta']);
  });

  it('reports an unknown state as "unknown", not running', () => {
    const json = dockerContainerJson({ ...base, state: ContainerState.UNRECOGNIZED });
    expect(json.State).toMatchObject({ Status: 'unknown', Running: false });
  });
});
