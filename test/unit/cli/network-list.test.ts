import { describe, expect, it } from 'vitest';
import { filterArgs, parseFilterFlag } from '../../../src/cli/filter-args.js';
import type { FilterPair } from '../../../src/cli/filter-args.js';
import { NETWORK_LIST_FILTERS, filterNetworks } from '../../../src/cli/network-list-filter.js';
import {
  formatNetworkIds,
  formatNetworkJsonLines,
  formatNetworkTable,
  networkListEntries,
} from '../../../src/cli/network-list-format.js';
import { VxmeshError } from '../../../src/common/errors.js';
import { APPNET_ID, BACKEND10_ID, BACKEND2_ID, INGRESS_ID, networkViews } from '../../cli/network-fixtures.js';

const networks = networkViews().map((v) => v.network);

/** Names `network ls --filter ...` keeps, in list order. */
function namesFor(...filters: string[]): string[] {
  const pairs = filters.reduce<FilterPair[]>((acc, f) => parseFilterFlag(f, acc), []);
  const kept = filterNetworks(networks, filterArgs(pairs, NETWORK_LIST_FILTERS));
  return networkListEntries(kept, true).map((e) => e.Name);
}

describe('network ls rows', () => {
  it('sorts by name in natural order and cuts IDs to 12 characters', () => {
    const entries = networkListEntries(networks, true);
    expect(entries.map((e) => [e.ID, e.Name])).toEqual([
      [APPNET_ID.slice(0, 12), 'appnet'],
      [BACKEND2_ID.slice(0, 12), 'backend2'],
      [BACKEND10_ID.slice(0, 12), 'backend10'],
      [INGRESS_ID.slice(0, 12), 'ingress'],
    ]);
    expect(networkListEntries(networks, false)[0]?.ID).toBe(APPNET_ID);
  });

  it('prints docker’s table', () => {
    expect(formatNetworkTable(networkListEntries(networks, true))).toBe(
      [
        'NETWORK ID     NAME        DRIVER    SCOPE',
        'q7m2wkd0e4x9   appnet      overlay   swarm',
        'k3j9x2m8q1w7   backend2    overlay   swarm',
        'k3j9x2m8q1w8   backend10   overlay   swarm',
        'rx0v9g3tq8l2   ingress     overlay   swarm',
        '',
      ].join('\n'),
    );
  });

  it('prints the header alone when there are no networks', () => {
    expect(formatNetworkTable([])).toBe('NETWORK ID   NAME      DRIVER    SCOPE\n');
  });

  it('--format json prints docker’s {{json .}} fields, all strings, keys sorted', () => {
    const [first] = formatNetworkJsonLines(networkListEntries(networks, true)).split('\n');
    expect(first).toBe(
      '{"CreatedAt":"2026-08-01 10:15:42.118 +0000 UTC","Driver":"overlay","ID":"q7m2wkd0e4x9","IPv4":"true",' +
        '"IPv6":"true","Internal":"false","Labels":"com.example.tier=front,team=web","Name":"appnet","Scope":"swarm"}',
    );
  });

  it('-q prints one ID per line', () => {
    expect(formatNetworkIds(networkListEntries(networks, false))).toBe(
      `${APPNET_ID}\n${BACKEND2_ID}\n${BACKEND10_ID}\n${INGRESS_ID}\n`,
    );
  });
});

describe('network ls filters', () => {
  it('name matches substrings and regular expressions, values of one key are alternatives', () => {
    expect(namesFor('name=backend')).toEqual(['backend2', 'backend10']);
    expect(namesFor('name=^app')).toEqual(['appnet']);
    expect(namesFor('name=ingress', 'name=appnet')).toEqual(['appnet', 'ingress']);
    expect(namesFor('name=nothing')).toEqual([]);
  });

  it('id matches a prefix (or any part), driver and scope match exactly', () => {
    expect(namesFor('id=k3j9x2m8q1w')).toEqual(['backend2', 'backend10']);
    expect(namesFor(`id=${INGRESS_ID}`)).toEqual(['ingress']);
    expect(namesFor('driver=overlay')).toHaveLength(4);
    expect(namesFor('driver=overl')).toEqual([]);
    expect(namesFor('scope=swarm')).toHaveLength(4);
    expect(namesFor('scope=local')).toEqual([]);
  });

  it('label=K and label=K=V must all match; different keys must all match', () => {
    expect(namesFor('label=team')).toEqual(['appnet', 'backend2', 'backend10']);
    expect(namesFor('label=team=data')).toEqual(['backend2', 'backend10']);
    expect(namesFor('label=team=data', 'label=tier')).toEqual(['backend2']);
    expect(namesFor('label=tier=')).toEqual(['backend2']);
    expect(namesFor('label=team', 'name=app')).toEqual(['appnet']);
  });

  it('type: every vxmesh network, ingress included, is custom, as docker counts ingress', () => {
    expect(namesFor('type=custom')).toHaveLength(4);
    expect(namesFor('type=builtin')).toEqual([]);
    expect(() => namesFor('type=local')).toThrow("invalid filter: 'type'='local'");
  });

  it('refuses keys it does not know, as docker does', () => {
    expect(() => namesFor('colour=red')).toThrow(VxmeshError);
    expect(() => namesFor('colour=red')).toThrow("invalid filter 'colour'");
    expect(() => namesFor('dangling=true')).toThrow("invalid filter 'dangling'");
  });

  it('parses --filter like docker: key lower-cased and trimmed, empty flag ignored, "=" required', () => {
    expect(parseFilterFlag(' Name = web ', undefined)).toEqual([['name', 'web']]);
    expect(parseFilterFlag('label=a=b', [['name', 'x']])).toEqual([
      ['name', 'x'],
      ['label', 'a=b'],
    ]);
    expect(parseFilterFlag('', undefined)).toEqual([]);
    expect(() => parseFilterFlag('name', undefined)).toThrow(/expected name=value/);
  });
});
