import type { DnsEndpoint, DnsService } from './dns-state.js';
import type { RecordTableBuilder } from './record-table.js';

/**
 * The records of one service on each of its networks:
 * - `<service>` and its aliases → the VIP on that network, or, in dnsrr mode (or without a VIP
 *   there), the addresses of its serving tasks on that network;
 * - `tasks.<service>` and `tasks.<alias>` → the serving task addresses, in both modes;
 * - SRV `_<target port>._<protocol>.<service>` → `<task name>.<network>` per serving task (Swarm
 *   declares this form but never fills it).
 * A task that is starting or being stopped is not serving: it is left out, so a name never
 * points at a task that refuses connections.
 */
export function addServiceRecords(
  builder: RecordTableBuilder,
  service: DnsService,
  tasksOnNetwork: (networkId: string) => readonly DnsEndpoint[],
  networkName: (networkId: string) => string | undefined,
): void {
  for (const { networkId, aliases } of service.networks) {
    const network = networkName(networkId);
    if (network === undefined) {
      continue;
    }
    const tasks = tasksOnNetwork(networkId);
    const names = [...new Set([service.name, ...aliases].filter((n) => n !== '').map((n) => n.toLowerCase()))];
    const vip = service.endpointMode === 'vip' ? service.vips.find((v) => v.networkId === networkId) : undefined;
    for (const name of names) {
      if (vip) {
        builder.addAddress(networkId, name, vip.addr);
      } else {
        addTaskAddresses(builder, networkId, name, tasks);
      }
      addTaskAddresses(builder, networkId, `tasks.${name}`, tasks);
    }
    if (vip && service.name !== '') {
      builder.addPtr(networkId, vip.addr, `${service.name}.${network}`);
    }
    for (const { protocol, port } of service.ports) {
      for (const t of tasks) {
        if (t.ownerName !== '') {
          builder.addSrv(networkId, `_${port}._${protocol}.${service.name}`, {
            priority: 0,
            weight: 0,
            port,
            target: `${t.ownerName}.${network}`,
          });
        }
      }
    }
  }
}

function addTaskAddresses(builder: RecordTableBuilder, networkId: string, name: string, tasks: readonly DnsEndpoint[]): void {
  for (const t of tasks) {
    for (const address of [t.ipv4Address, t.ipv6Address]) {
      if (address !== '') {
        builder.addAddress(networkId, name, address);
      }
    }
  }
}
