import { buildAskerView } from '../../../src/worker/dns/asker-view.js';
import type { AskerView } from '../../../src/worker/dns/asker-view.js';
import { buildRecordTable } from '../../../src/worker/dns/build-record-table.js';
import type { DnsContainer, DnsEndpoint, DnsNetwork, DnsState } from '../../../src/worker/dns/dns-state.js';
import type { RecordTable } from '../../../src/worker/dns/record-table.js';

export const networks: DnsNetwork[] = [
  { id: 'n-front', name: 'front', subnets: ['10.1.0.0/24'], internal: false },
  { id: 'n-back', name: 'Back', subnets: ['10.2.0.0/24', 'fd00:2::/64'], internal: false },
  { id: 'n-hidden', name: 'hidden', subnets: ['10.3.0.0/24'], internal: false },
  { id: 'n-int', name: 'intra', subnets: ['10.4.0.0/24'], internal: true },
];

const ep = (
  id: string,
  networkId: string,
  ownerName: string,
  v4: string,
  extra: Partial<DnsEndpoint> = {},
): DnsEndpoint => ({
  id,
  networkId,
  ownerName,
  hostname: '',
  aliases: [],
  ipv4Address: v4,
  ipv6Address: '',
  ...extra,
});

export const endpoints: DnsEndpoint[] = [
  ep('e1', 'n-front', 'web1', '10.1.0.2/24', { hostname: 'web1-host', aliases: ['app'] }),
  ep('e2', 'n-front', 'web2', '10.1.0.3/24', { aliases: ['App'] }),
  ep('e3', 'n-back', 'db', '10.2.0.5/24', { ipv6Address: 'fd00:2::5/64', aliases: ['store'] }),
  ep('e4', 'n-back', 'web1', '10.2.0.2/24', { aliases: ['api'] }),
  ep('e5', 'n-hidden', 'secret', '10.3.0.9/24', { aliases: ['app'] }),
  ep('e6', 'n-int', 'vault', '10.4.0.7/24'),
];

export const containers: DnsContainer[] = [
  {
    id: 'c-web1',
    namespace: 'ns-web1',
    networks: [
      { networkId: 'n-front', networkName: 'front', links: ['db:database'] },
      { networkId: 'n-back', networkName: 'back', links: ['db:database', 'web2'] },
    ],
    dns: ['192.0.2.53'],
  },
  {
    id: 'c-web2',
    namespace: 'ns-web2',
    networks: [{ networkId: 'n-front', networkName: 'front', links: [] }],
    dns: [],
  },
  {
    id: 'c-vault',
    namespace: 'ns-vault',
    networks: [{ networkId: 'n-int', networkName: 'intra', links: [] }],
    dns: [],
  },
];

export const state: DnsState = { networks, endpoints, containers };

export const HOST_SERVERS = ['198.51.100.53', '127.0.0.53'];

/** The table and every container's view for a state. */
export function viewsOf(s: DnsState = state, generation = 1): { table: RecordTable; views: Map<string, AskerView> } {
  const table = buildRecordTable(s, generation);
  const byId = new Map(s.networks.map((n) => [n.id, n]));
  return { table, views: new Map(s.containers.map((c) => [c.id, buildAskerView(c, byId, HOST_SERVERS)])) };
}

export function view(views: Map<string, AskerView>, id: string): AskerView {
  const v = views.get(id);
  if (!v) {
    throw new Error(`no view ${id}`);
  }
  return v;
}
