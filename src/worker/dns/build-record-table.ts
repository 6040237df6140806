import type { DnsState } from './dns-state.js';
import { addEndpointRecords } from './endpoint-records.js';
import { RecordTableBuilder } from './record-table.js';
import type { RecordTable } from './record-table.js';

/**
 * The record table for a whole DNS state: every network, then every record source. Pure; the
 * caller rebuilds on each change (level-triggered), so a removed endpoint or alias is simply
 * absent from the next table. Record sources are applied here in a fixed order; services
 * (`<service>`, `tasks.<service>`, SRV) will be one more source.
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
  return builder.build(generation);
}
