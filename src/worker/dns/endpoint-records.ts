import type { DnsEndpoint } from './dns-state.js';
import type { RecordTableBuilder } from './record-table.js';

/**
 * The records one endpoint contributes to its network: its container name, hostname and every
 * alias resolve to its addresses (A and AAAA), and each address reverse-resolves to
 * `<ownerName>.<network>` (Docker's PTR form). Endpoints on a network the builder does not know
 * contribute nothing.
 */
export function addEndpointRecords(builder: RecordTableBuilder, endpoint: DnsEndpoint, networkName: string): void {
  const names = new Set<string>();
  for (const n of [endpoint.ownerName, endpoint.hostname, ...endpoint.aliases]) {
    if (n !== '') {
      names.add(n.toLowerCase());
    }
  }
  for (const address of [endpoint.ipv4Address, endpoint.ipv6Address]) {
    if (address === '') {
      continue;
    }
    for (const name of names) {
      builder.addAddress(endpoint.networkId, name, address);
    }
    if (endpoint.ownerName !== '') {
      builder.addPtr(endpoint.networkId, address, `${endpoint.ownerName}.${networkName}`);
    }
  }
}
