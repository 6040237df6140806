import type { DnsState } from './dns-state.js';
import { addEndpointRecords } from './endpoint-records.js';
import { RecordTableBuilder } from './record-table.js';
import { addServiceRecords } from './service-records.js';
import type { DnsEndpoint } from './dns-state.js';
import type { RecordTable } from './record-table.js';

/**
 * The record table for a whole DNS state: every network, then every record source. Pure; the
 * caller rebuilds on each change (level-triggered), so a removed endpoint or alias is simply
 * absent from the next table. Record sources are applied here in a fixed order: endpoints, then
 * services (`<service>`, `tasks.<service>`, SRV).
 */
export function buildRecordTable(state: DnsState, generation: number): RecordTable {
  const builder = new RecordTableBuilder();
  const names = new Map<string, string>();
  for (const n of state.networks) {
    builder.network(n.id, n.name, n.subnets);
    if (!names.has(n.id)) {
      names.set(n.id, n.name);
    }
  }
  for (const ep of state.endpoints) {
    const networkName = names.get(ep.networkId);
    if (networkName !== undefined) {
      addEndpointRecords(builder, ep, networkName);
    }
  }
  // Serving task endpoints by service name and network: `tasks.<service>` and dnsrr answers.
  const tasks = new Map<string, DnsEndpoint[]>();
  for (const ep of state.endpoints) {
    if (ep.serviceName && ep.serving) {
      const key = `${ep.serviceName}\0${ep.networkId}`;
      const list = tasks.get(key) ?? [];
      list.push(ep);
      tasks.set(key, list);
    }
  }
  for (const service of state.services ?? []) {
    addServiceRecords(
      builder,
      service,
      (networkId) => tasks.get(`${service.name}\0${networkId}`) ?? [],
      (networkId) => names.get(networkId),
    );
  }
  return builder.build(generation);
}
