import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  parseFdb,
  parseJsonSequence,
  parseLinks,
  parseNeighbours,
  parseNetnsList,
  parseNftTable,
  parseRoutes,
} from '../../../src/vxlan/kernel-json.js';

// Outputs captured from iproute2 6.1 / nftables 1.0.6 on kernel 6.18: an overlay namespace
// (dpx-o) with br0, vxlan0 created from dpx-h, a veth to the container dpx-c.
const fixture = (name: string): string => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('parseJsonSequence', () => {
  it.each([
    ['one array', '[1,2]\n', [[1, 2]]],
    ['arrays per line', '[1]\n[{"a":[2]}]\n[]\n', [[1], [{ a: [2] }], []]],
    ['brackets and escapes in strings', '[{"s":"a]\\"[b"}][2]', [[{ s: 'a]"[b' }], [2]]],
    ['empty input', '  \n', []],
  ])('%s', (_name, text, expected) => {
    expect(parseJsonSequence(text)).toEqual(expected);
  });

  it.each([['unterminated', '[1,'], ['unbalanced', ']'], ['open string', '["a']])('rejects %s', (_name, text) => {
    expect(() => parseJsonSequence(text)).toThrow(SyntaxError);
  });
});

describe('parsers on real tool output', () => {
  const [addr, neigh, netns] = parseJsonSequence(fixture('overlay-ip-batch.txt'));
  const [cAddr, cRoutes, cNetns] = parseJsonSequence(fixture('container-ip-batch.txt'));

  it('parses links: vxlan attributes, socket namespace, bridge ports, veth peers, addresses', () => {
    const links = parseLinks(addr);
    expect([...links.keys()].sort()).toEqual(['br0', 'lo', 've0123456789ab', 'vxlan0']);
    const vx = links.get('vxlan0');
    expect(vx).toMatchObject({ kind: 'vxlan', mtu: 1450, up: true, master: 'br0', linkNetnsId: 0, isolated: false });
    expect(vx?.vxlan).toEqual({
      vni: 4097,
      port: 4789,
      local: '198.51.100.10',
      learning: false,
      proxy: true,
      l2miss: true,
      l3miss: true,
    });
    expect(links.get('br0')?.addresses.filter((a) => a.scope === 'global').map((a) => a.cidr)).toEqual([
      '10.0.1.1/24',
      'fd00:1::1/64',
    ]);
    expect(links.get('br0')?.kind).toBe('bridge');
    const ve = links.get('ve0123456789ab');
    const eth0 = parseLinks(cAddr).get('eth0');
    expect(ve?.linkIndex).toBe(eth0?.ifindex);
    expect(eth0?.linkIndex).toBe(ve?.ifindex);
    expect(eth0).toMatchObject({ kind: 'veth', mac: '02:42:0a:00:01:02', up: true, mtu: 1450 });
    expect(parseNetnsList(netns).ids.get('dpx-c')).toBe(ve?.linkNetnsId);
    expect(parseNetnsList(cNetns).ids.get('dpx-o')).toBe(eth0?.linkNetnsId);
  });

  it('parses permanent neighbours of both families', () => {
    expect(parseNeighbours(neigh).filter((n) => n.dev === 'vxlan0')).toEqual([
      { ip: '10.0.1.3', dev: 'vxlan0', lladdr: '02:42:0a:00:01:03', permanent: true },
      { ip: 'fd00:1::3', dev: 'vxlan0', lladdr: '02:42:0a:00:01:03', permanent: true },
    ]);
  });

  it('parses FDB entries, telling remote entries from the bridge’s own', () => {
    const fdb = parseFdb(JSON.parse(fixture('overlay-fdb.json')));
    const remote = fdb.filter((f) => f.dev === 'vxlan0' && f.self && f.dst !== undefined);
    expect(remote.map((f) => `${f.mac} ${f.dst ?? ''} ${String(f.permanent)}`).sort()).toEqual([
      '02:42:0a:00:01:03 198.51.100.11 true',
      '02:42:0a:00:01:04 198.51.100.12 true',
    ]);
    expect(fdb.some((f) => f.dev === 'vxlan0' && f.master === 'br0' && f.dst === undefined)).toBe(true);
  });

  it('parses main-table unicast routes only, host routes as /32', () => {
    expect(parseRoutes(cRoutes).filter((r) => r.family === 4)).toEqual([
      { dst: '10.0.1.0/24', family: 4, gateway: undefined, dev: 'eth0', protocol: 'kernel' },
      { dst: '10.0.2.0/24', family: 4, gateway: '10.0.1.1', dev: 'eth0', protocol: 'boot' },
      { dst: '10.0.9.9/32', family: 4, gateway: '10.0.1.1', dev: 'eth0', protocol: 'boot' },
    ]);
  });

  it('parses the nft table: sets, counter, chains and rule comments', () => {
    const table = parseNftTable(JSON.parse(fixture('nft-table.json')));
    expect(table.sets.get('member_vteps4')).toEqual({ type: 'ipv4_addr', elements: ['198.51.100.1', '198.51.100.2'] });
    expect(table.sets.get('member_vteps6')).toEqual({ type: 'ipv6_addr', elements: [] });
    expect(table.counters.get('vxlan_dropped')).toEqual({ packets: 0, bytes: 0 });
    expect(table.chains.get('input')).toEqual({
      type: 'filter',
      hook: 'input',
      priority: 0,
      policy: 'accept',
      ruleComments: ['vxmesh:guard4:4789', 'vxmesh:guard6:4789'],
    });
    expect(table.chains.get('postrouting')?.priority).toBe(100);
  });

  it('ignores fields of unexpected types instead of trusting them', () => {
    const links = parseLinks([{ ifname: 'x', ifindex: 3, mtu: '1500', flags: 'UP', linkinfo: [] }, { ifname: 7 }]);
    expect([...links.keys()]).toEqual(['x']);
    expect(links.get('x')).toMatchObject({ mtu: 0, up: false, kind: undefined });
    expect(parseNeighbours({})).toEqual([]);
    expect(parseNftTable(null).chains.size).toBe(0);
  });
});
