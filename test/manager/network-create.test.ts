import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import type { KvStore } from '../../src/kvstore/index.js';
import type { CreateNetworkRequest } from '../../src/gen/vxmesh/v1/control.js';
import type { Network } from '../../src/gen/vxmesh/v1/network.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { createRequest, fingerprint, openTestStore, seedCluster, STORE_KINDS } from './network-fixtures.js';
import type { TestStore } from './network-fixtures.js';

const MTU = 'com.docker.network.driver.mtu';
const VXLAN = 'com.docker.network.driver.overlay.vxlanid_list';

/** Bad requests: [what, request overrides, error pattern, error code]. Each must write nothing. */
const REFUSED: [string, Partial<CreateNetworkRequest> & { name?: string }, RegExp, string][] = [
  [
    'subnet without prefix',
    { subnets: ['10.1.0.0'] },
    /invalid --subnet: "10.1.0.0" is not in CIDR notation/,
    'INVALID_ARGUMENT',
  ],
  [
    'subnet with a bad address',
    { subnets: ['10.1.0.300/24'] },
    /invalid --subnet: "10.1.0.300\/24": "10.1.0.300" is not an IP address/,
    'INVALID_ARGUMENT',
  ],
  [
    'subnet in a short IPv4 form',
    { subnets: ['10.1/16'] },
    /invalid --subnet: .*"10.1" is not an IP address/,
    'INVALID_ARGUMENT',
  ],
  [
    'prefix longer than the family',
    { subnets: ['10.1.0.0/33'] },
    /invalid --subnet: 10.1.0.0\/33: prefix length "33" is out of range \(0-32 for IPv4\)/,
    'INVALID_ARGUMENT',
  ],
  [
    'prefix not a number',
    { subnets: ['10.1.0.0/2x'] },
    /invalid --subnet: .*prefix length "2x" is out of range/,
    'INVALID_ARGUMENT',
  ],
  [
    'prefix too long for a gateway',
    { subnets: ['10.1.0.0/31'] },
    /invalid --subnet: 10.1.0.0\/31: prefix length \/31 is out of range for an IPv4 overlay subnet \(\/8 to \/30/,
    'INVALID_ARGUMENT',
  ],
  [
    'prefix too short',
    { subnets: ['0.0.0.0/4'] },
    /invalid --subnet: 0.0.0.0\/4: prefix length \/4 is out of range/,
    'INVALID_ARGUMENT',
  ],
  [
    'IPv6 prefix too long',
    { subnets: ['fd00::/127'], enableIpv6: true },
    /invalid --subnet: fd00::\/127: prefix length \/127 is out of range for an IPv6/,
    'INVALID_ARGUMENT',
  ],
  [
    'host bits set',
    { subnets: ['10.1.0.1/24'] },
    /invalid --subnet: 10.1.0.1\/24 has host bits set \(the network is 10.1.0.0\/24\)/,
    'INVALID_ARGUMENT',
  ],
  [
    'IPv6 host bits set',
    { subnets: ['fd00::1/64'], enableIpv6: true },
    /invalid --subnet: fd00::1\/64 has host bits set \(the network is fd00::\/64\)/,
    'INVALID_ARGUMENT',
  ],
  [
    'IPv6 subnet without --ipv6',
    { subnets: ['fd00:1::/64'] },
    /invalid --subnet: fd00:1::\/64 is an IPv6 subnet; add --ipv6/,
    'INVALID_ARGUMENT',
  ],
  [
    '--ipv6 without an IPv6 subnet or pool',
    { enableIpv6: true },
    /invalid --ipv6: the cluster has no IPv6 default address pool/,
    'INVALID_ARGUMENT',
  ],
  [
    'IPv6 gateway for an IPv4 subnet',
    { subnets: ['10.1.0.0/24'], gateways: ['fd00::1'] },
    /invalid --gateway: fd00::1 is outside every --subnet \(10.1.0.0\/24\)/,
    'INVALID_ARGUMENT',
  ],
  [
    'IPv4 range in an IPv6 subnet',
    { subnets: ['fd00:1::/64'], ipRanges: ['10.1.0.0/28'], enableIpv6: true },
    /invalid --ip-range: 10.1.0.0\/28 is not inside any --subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'zone in an IPv6 address',
    { subnets: ['fd00:1::/64'], gateways: ['fd00:1::1%eth0'], enableIpv6: true },
    /invalid --gateway: "fd00:1::1%eth0" is not an IP address/,
    'INVALID_ARGUMENT',
  ],
  [
    'subnets overlapping each other',
    { subnets: ['10.1.0.0/16', '10.1.2.0/24'] },
    /invalid --subnet: 10.1.2.0\/24 overlaps 10.1.0.0\/16, also given/,
    'INVALID_ARGUMENT',
  ],
  [
    'subnet overlapping another network',
    { subnets: ['10.0.0.0/16'] },
    /invalid --subnet: 10.0.0.0\/16 overlaps 10.0.0.0\/24 of network "ingress" \([0-9a-z]{25}\)/,
    'INVALID_ARGUMENT',
  ],
  [
    'gateway outside its subnet',
    { subnets: ['10.1.0.0/24'], gateways: ['10.2.0.1'] },
    /invalid --gateway: 10.2.0.1 is outside every --subnet \(10.1.0.0\/24\)/,
    'INVALID_ARGUMENT',
  ],
  [
    'gateway on the network address',
    { subnets: ['10.1.0.0/24'], gateways: ['10.1.0.0'] },
    /invalid --gateway: 10.1.0.0 is the network address of 10.1.0.0\/24/,
    'INVALID_ARGUMENT',
  ],
  [
    'gateway on the broadcast address',
    { subnets: ['10.1.0.0/24'], gateways: ['10.1.0.255'] },
    /invalid --gateway: 10.1.0.255 is the broadcast address of 10.1.0.0\/24/,
    'INVALID_ARGUMENT',
  ],
  [
    'gateway not an address',
    { subnets: ['10.1.0.0/24'], gateways: ['gw'] },
    /invalid --gateway: "gw" is not an IP address/,
    'INVALID_ARGUMENT',
  ],
  [
    'more gateways than subnets',
    { subnets: ['10.1.0.0/24'], gateways: ['10.1.0.1', '10.1.0.2'] },
    /invalid --gateway: 2 given for 1 subnet; give at most one per --subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'two gateways for one of two subnets',
    { subnets: ['10.1.0.0/24', '10.2.0.0/24'], gateways: ['10.1.0.1', '10.1.0.2'] },
    /invalid --gateway: 10.1.0.2 and 10.1.0.1 are both for subnet 10.1.0.0\/24/,
    'INVALID_ARGUMENT',
  ],
  [
    'gateway without a subnet',
    { gateways: ['10.0.9.1'] },
    /invalid --gateway: --gateway needs an explicit --subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'ip-range outside its subnet',
    { subnets: ['10.1.0.0/24'], ipRanges: ['10.1.1.0/25'] },
    /invalid --ip-range: 10.1.1.0\/25 is not inside any --subnet \(10.1.0.0\/24\)/,
    'INVALID_ARGUMENT',
  ],
  [
    'ip-range larger than its subnet',
    { subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.0/23'] },
    /invalid --ip-range: 10.1.0.0\/23 is not inside any --subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'ip-range with host bits',
    { subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.1/28'] },
    /invalid --ip-range: 10.1.0.1\/28 has host bits set/,
    'INVALID_ARGUMENT',
  ],
  [
    'two ranges for one subnet',
    { subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.0/28', '10.1.0.16/28'] },
    /invalid --ip-range: 2 given for 1 subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'range with no usable address',
    { subnets: ['10.1.0.0/24'], ipRanges: ['10.1.0.0/32'] },
    /invalid --ip-range: 10.1.0.0\/32 holds no assignable address/,
    'INVALID_ARGUMENT',
  ],
  [
    'ip-range without a subnet',
    { ipRanges: ['10.0.9.0/28'] },
    /invalid --ip-range: --ip-range needs an explicit --subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'aux address outside every subnet',
    { subnets: ['10.1.0.0/24'], auxAddresses: { r: '10.3.0.1' } },
    /invalid --aux-address: r=10.3.0.1 is outside every --subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'aux address on the gateway',
    { subnets: ['10.1.0.0/24'], gateways: ['10.1.0.9'], auxAddresses: { r: '10.1.0.9' } },
    /invalid --aux-address: r=10.1.0.9 is the gateway of 10.1.0.0\/24/,
    'INVALID_ARGUMENT',
  ],
  [
    'aux address twice',
    { subnets: ['10.1.0.0/24'], auxAddresses: { a: '10.1.0.9', b: '10.1.0.9' } },
    /invalid --aux-address: b=10.1.0.9: 10.1.0.9 is already reserved as a/,
    'INVALID_ARGUMENT',
  ],
  [
    'aux address with a bad name',
    { subnets: ['10.1.0.0/24'], auxAddresses: { 'a b': '10.1.0.9' } },
    /invalid --aux-address: "a b"=10.1.0.9: names are 1-63/,
    'INVALID_ARGUMENT',
  ],
  [
    'aux address without a subnet',
    { auxAddresses: { r: '10.0.9.5' } },
    /invalid --aux-address: --aux-address needs an explicit --subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'unknown driver',
    { driver: 'bridge' },
    /invalid --driver: "bridge": cluster networks use the "overlay" driver/,
    'INVALID_ARGUMENT',
  ],
  [
    'unknown IPAM driver',
    { ipamDriver: 'dhcp' },
    /invalid --ipam-driver: "dhcp": only the "default" IPAM driver exists/,
    'INVALID_ARGUMENT',
  ],
  [
    'unknown option',
    { options: { 'com.docker.network.bridge.name': 'x' } },
    /invalid -o\/--opt: unknown option "com.docker.network.bridge.name" for the overlay driver/,
    'INVALID_ARGUMENT',
  ],
  [
    'MTU below 68',
    { options: { [MTU]: '67' } },
    /invalid -o com.docker.network.driver.mtu: "67" must be an integer from 68 to 65535/,
    'INVALID_ARGUMENT',
  ],
  [
    'MTU above 65535',
    { options: { [MTU]: '65536' } },
    /invalid -o com.docker.network.driver.mtu: "65536" must be/,
    'INVALID_ARGUMENT',
  ],
  [
    'MTU not a number',
    { options: { [MTU]: '1500b' } },
    /invalid -o com.docker.network.driver.mtu: "1500b" must be/,
    'INVALID_ARGUMENT',
  ],
  [
    'encrypted with a bad value',
    { options: { encrypted: 'yes' } },
    /invalid -o encrypted: "yes" must be empty, true or false/,
    'INVALID_ARGUMENT',
  ],
  [
    'VNI below 4096',
    { options: { [VXLAN]: '4095' } },
    /invalid -o com.docker.network.driver.overlay.vxlanid_list: 4095: VNI 4095 is out of range \(4096-16777215/,
    'INVALID_ARGUMENT',
  ],
  ['VNI 0', { options: { [VXLAN]: '0' } }, /VNI 0 is out of range/, 'INVALID_ARGUMENT'],
  ['VNI above 2^24-1', { options: { [VXLAN]: '16777216' } }, /VNI 16777216 is out of range/, 'INVALID_ARGUMENT'],
  [
    'VNI not a number',
    { options: { [VXLAN]: 'abc' } },
    /vxlanid_list: "abc": "abc" is not a VNI number/,
    'INVALID_ARGUMENT',
  ],
  [
    'more VNIs than IPv4 subnets',
    { options: { [VXLAN]: '5000,5001' } },
    /vxlanid_list: 5000,5001: 2 VNIs for 1 IPv4 subnet; give one per IPv4 subnet/,
    'INVALID_ARGUMENT',
  ],
  [
    'VNI given twice',
    { subnets: ['10.1.0.0/24', '10.2.0.0/24'], options: { [VXLAN]: '5000,5000' } },
    /VNI 5000 is given twice/,
    'INVALID_ARGUMENT',
  ],
  [
    'VNI in use',
    { options: { [VXLAN]: '4096' } },
    /invalid -o com.docker.network.driver.overlay.vxlanid_list: VNI 4096 is already used by another network/,
    'INVALID_ARGUMENT',
  ],
  ['label with an empty key', { labels: { '': 'x' } }, /invalid --label: key "": keys are 1-128/, 'INVALID_ARGUMENT'],
  ['label key with a space', { labels: { 'a b': 'x' } }, /invalid --label: key "a b"/, 'INVALID_ARGUMENT'],
  ['label key starting with a dash', { labels: { '-a': 'x' } }, /invalid --label: key "-a"/, 'INVALID_ARGUMENT'],
  ['label key with ..', { labels: { 'com..x': 'x' } }, /invalid --label: key "com..x"/, 'INVALID_ARGUMENT'],
  [
    'label value with a newline',
    { labels: { a: 'x\ny' } },
    /invalid --label: value of a: at most 4096 characters and no control characters/,
    'INVALID_ARGUMENT',
  ],
  ['IPAM option with a bad key', { ipamOptions: { 'a=b': 'x' } }, /invalid --ipam-opt: key "a=b"/, 'INVALID_ARGUMENT'],
  ['empty name', { name: '' }, /invalid network name: "": a name is 1-63 ASCII letters/, 'INVALID_ARGUMENT'],
  ['name of 64 characters', { name: 'a'.repeat(64) }, /invalid network name: "a{64}"/, 'INVALID_ARGUMENT'],
  ['name with a dot', { name: 'a.b' }, /invalid network name: "a.b"/, 'INVALID_ARGUMENT'],
  ['name with ..', { name: 'a..b' }, /invalid network name: "a..b"/, 'INVALID_ARGUMENT'],
  ['name with a semicolon', { name: 'a;reboot' }, /invalid network name: "a;reboot"/, 'INVALID_ARGUMENT'],
  ['name with a newline', { name: 'a\nb' }, /invalid network name: "a\\nb"/, 'INVALID_ARGUMENT'],
  ['name with unicode', { name: 'café' }, /invalid network name: "café"/, 'INVALID_ARGUMENT'],
  ['name ending with a dash', { name: 'web-' }, /invalid network name: "web-"/, 'INVALID_ARGUMENT'],
  ['name with a slash', { name: 'a/b' }, /invalid network name: "a\/b"/, 'INVALID_ARGUMENT'],
  [
    'ingress that is attachable',
    { ingress: true, attachable: true },
    /invalid --attachable: an ingress network cannot be attachable/,
    'INVALID_ARGUMENT',
  ],
  [
    'second ingress',
    { ingress: true },
    /an ingress network already exists: ingress \([0-9a-z]{25}\)/,
    'ALREADY_EXISTS',
  ],
  ['duplicate name', { name: 'ingress' }, /network with name ingress already exists/, 'ALREADY_EXISTS'],
];

describe.each(STORE_KINDS)('network create on the %s store', (kind) => {
  let t: TestStore;
  let store: KvStore;
  let networks: NetworkService;

  beforeEach(async () => {
    t = await openTestStore(kind);
    store = t.store;
    await seedCluster(store);
    networks = new NetworkService(store, systemClock);
  });

  afterEach(async () => {
    await t.dispose();
  });

  it('refuses every bad request naming flag and value, writing nothing', async () => {
    const before = await fingerprint(store);
    for (const [what, extra, pattern, code] of REFUSED) {
      const req = createRequest(extra.name ?? 'bad', extra);
      const attempt = networks.create(req);
      await expect(attempt, what).rejects.toThrow(pattern);
      await expect(attempt, what).rejects.toMatchObject({ code });
    }
    expect(await fingerprint(store)).toEqual(before);
  });

  it('creates with defaults: next /24 of the pool, gateway .1, next VNI written back into the options', async () => {
    const { network } = await networks.create(createRequest('app'));
    expect(network).toMatchObject({
      name: 'app',
      driver: 'overlay',
      ipamDriver: 'default',
      enableIpv6: false,
      internal: false,
      attachable: false,
      ingress: false,
      encrypted: false,
      mtu: 0,
      options: { [VXLAN]: '4097' },
      subnets: [
        { subnet: '10.0.1.0/24', gateway: '10.0.1.1', ipRange: '', auxAddresses: {}, vni: 4097, automatic: true },
      ],
    });
    expect(network.id).toMatch(/^[0-9a-z]{25}$/);
    const view = await networks.get('app');
    expect(view.usage).toEqual([{ subnet: '10.0.1.0/24', inUse: 1n, free: 253n }]);
  });

  it('takes every flag: subnets, gateways, ranges, aux addresses, IPv6, internal, attachable, labels, options', async () => {
    const { network } = await networks.create(
      createRequest('full', {
        driver: 'overlay',
        ipamDriver: 'default',
        subnets: ['fd00:77::/64', '10.7.0.0/16', '10.8.0.0/24'],
        gateways: ['10.7.255.254', 'fd00:77::fe'],
        ipRanges: ['10.7.5.0/24'],
        auxAddresses: { router: '10.7.0.1', dns: '10.8.0.53', v6: 'fd00:77::1' },
        enableIpv6: true,
        internal: true,
        attachable: true,
        labels: { 'com.example.team': 'net', tier: '' },
        options: { [MTU]: '1400', encrypted: '', [VXLAN]: '7000,7001' },
        ipamOptions: { 'com.example.ipam': 'x' },
      }),
    );
    expect(network).toMatchObject({
      enableIpv6: true,
      internal: true,
      attachable: true,
      encrypted: true,
      mtu: 1400,
      labels: { 'com.example.team': 'net', tier: '' },
      options: { [MTU]: '1400', encrypted: '', [VXLAN]: '7000,7001' },
      ipamOptions: { 'com.example.ipam': 'x' },
    });
    // IPv4 first, in the order given; the default gateway skips aux addresses; VNIs only for IPv4.
    expect(network.subnets).toEqual([
      {
        subnet: '10.7.0.0/16',
        ipRange: '10.7.5.0/24',
        gateway: '10.7.255.254',
        auxAddresses: { router: '10.7.0.1' },
        vni: 7000,
        automatic: false,
      },
      {
        subnet: '10.8.0.0/24',
        ipRange: '',
        gateway: '10.8.0.1',
        auxAddresses: { dns: '10.8.0.53' },
        vni: 7001,
        automatic: false,
      },
      {
        subnet: 'fd00:77::/64',
        ipRange: '',
        gateway: 'fd00:77::fe',
        auxAddresses: { v6: 'fd00:77::1' },
        vni: 0,
        automatic: false,
      },
    ]);
    const view = await networks.get(network.id);
    expect(view.usage).toEqual([
      { subnet: '10.7.0.0/16', inUse: 2n, free: 256n },
      { subnet: '10.8.0.0/24', inUse: 2n, free: 252n },
      { subnet: 'fd00:77::/64', inUse: 2n, free: (1n << 64n) - 3n },
    ]);
  });

  it('encrypted=false is off and not shown; explicit VNIs taken by one network are refused to the next', async () => {
    const { network } = await networks.create(
      createRequest('plain', { options: { encrypted: 'false', [VXLAN]: '9000' } }),
    );
    expect(network.encrypted).toBe(false);
    expect(network.options).toEqual({ [VXLAN]: '9000' });
    const before = await fingerprint(store);
    await expect(networks.create(createRequest('again', { options: { [VXLAN]: '9000' } }))).rejects.toThrow(
      /VNI 9000 is already used/,
    );
    expect(await fingerprint(store)).toEqual(before);
    // Serial VNIs carry on after the last one handed out, not after the explicit one.
    expect((await networks.create(createRequest('next'))).network.subnets[0]?.vni).toBe(4097);
  });

  it('picks automatic subnets around explicit ones and reuses freed space first', async () => {
    await networks.create(createRequest('a', { subnets: ['10.0.1.0/24'] }));
    await networks.create(createRequest('b', { subnets: ['10.0.2.0/23'] }));
    const c = await networks.create(createRequest('c'));
    expect(c.network.subnets[0]?.subnet).toBe('10.0.4.0/24');
    await networks.remove('a');
    expect((await networks.create(createRequest('d'))).network.subnets[0]?.subnet).toBe('10.0.1.0/24');
    expect((await networks.create(createRequest('e'))).network.subnets[0]?.subnet).toBe('10.0.5.0/24');
  });

  it('resolves by full ID, name and unique ID prefix; refuses ambiguous prefixes and unknown refs', async () => {
    const created: Network[] = [];
    // 37 IDs over 36 first characters: at least two share a first character.
    for (let i = 0; i < 37; i++) {
      created.push((await networks.create(createRequest(`n${i}`))).network);
    }
    const first = created[0];
    if (!first) {
      throw new Error('no network');
    }
    expect((await networks.get(first.id)).network?.name).toBe('n0');
    expect((await networks.get('n0')).network?.id).toBe(first.id);
    expect((await networks.get(first.id.slice(0, 12))).network?.id).toBe(first.id);
    const shared = created.find((n) => created.some((m) => m !== n && m.id[0] === n.id[0]));
    await expect(networks.get(shared?.id[0] ?? '')).rejects.toThrow(/is ambiguous/);
    await expect(networks.get('nope')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const names = (await networks.list()).map((v) => v.network?.name);
    expect(names).toHaveLength(38);
    expect(names).toContain('ingress');
  });
});

describe.each(STORE_KINDS)('ingress and pools on the %s store', (kind) => {
  let t: TestStore;

  afterEach(async () => {
    await t.dispose();
  });

  it('init creates ingress 10.0.0.0/24 with VNI 4096; it can be removed and recreated custom, and only once', async () => {
    t = await openTestStore(kind);
    await seedCluster(t.store);
    const networks = new NetworkService(t.store, systemClock);
    const ingress = (await networks.get('ingress')).network;
    expect(ingress).toMatchObject({
      ingress: true,
      attachable: false,
      options: { [VXLAN]: '4096' },
      subnets: [{ subnet: '10.0.0.0/24', gateway: '10.0.0.1', vni: 4096, automatic: true }],
    });
    expect(await networks.remove('ingress')).toMatchObject({ ingress: true });
    const custom = await networks.create(
      createRequest('ingress', {
        ingress: true,
        subnets: ['10.255.0.0/16'],
        gateways: ['10.255.0.254'],
        options: { [MTU]: '1350', encrypted: '' },
      }),
    );
    expect(custom.network).toMatchObject({
      ingress: true,
      mtu: 1350,
      encrypted: true,
      subnets: [{ subnet: '10.255.0.0/16', gateway: '10.255.0.254', vni: 4097 }],
    });
    await expect(networks.create(createRequest('other-ingress', { ingress: true }))).rejects.toMatchObject({
      code: 'ALREADY_EXISTS',
    });
    // Not pruned, even when unused.
    expect(await networks.prune({ labels: [], notLabels: [], until: 0n })).toEqual([]);
  });

  it('follows custom default pools, and an IPv6 pool when one is configured', async () => {
    t = await openTestStore(kind);
    await seedCluster(t.store, { defaultAddrPools: ['10.20.0.0/16', 'fd00:aa::/48'], defaultAddrPoolMaskLength: 26 });
    const networks = new NetworkService(t.store, systemClock);
    expect((await networks.get('ingress')).network?.subnets[0]?.subnet).toBe('10.20.0.0/26');
    const { network } = await networks.create(createRequest('v6', { enableIpv6: true }));
    expect(network.subnets.map((s) => [s.subnet, s.gateway, s.automatic])).toEqual([
      ['10.20.0.64/26', '10.20.0.65', true],
      ['fd00:aa::/64', 'fd00:aa::1', true],
    ]);
  });

  it('reports a full pool as EXHAUSTED, writing nothing', async () => {
    t = await openTestStore(kind);
    await seedCluster(t.store, { defaultAddrPools: ['10.30.0.0/25'], defaultAddrPoolMaskLength: 26 });
    const networks = new NetworkService(t.store, systemClock);
    await networks.create(createRequest('second'));
    const before = await fingerprint(t.store);
    await expect(networks.create(createRequest('third'))).rejects.toThrow(
      /no free subnet left in the default address pools \(10.30.0.0\/25 split into \/26\)/,
    );
    expect(await fingerprint(t.store)).toEqual(before);
  });
});
