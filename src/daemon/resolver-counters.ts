import type { ResolverCounters } from '../gen/vxmesh/v1/dispatcher.js';
import type { DnsCounters } from '../worker/dns/index.js';

/**
 * The embedded DNS's detailed counters folded into the few that heartbeats carry for
 * `node inspect`: enough to see at a glance whether containers resolve, what goes upstream and
 * whether anything is failing. A forwarded query every upstream failed counts in both
 * `forwarded` and `failed`.
 */
export function resolverCounters(c: Readonly<DnsCounters>): ResolverCounters {
  return {
    queries: BigInt(c.udpQueries + c.tcpQueries),
    answered: BigInt(c.localAnswers),
    forwarded: BigInt(c.forwarded),
    nxDomain: BigInt(c.nxdomain),
    malformed: BigInt(c.malformed + c.dropped),
    refused: BigInt(c.refused),
    failed: BigInt(c.forwardFailures + c.noUpstream),
    errors: BigInt(c.socketErrors + c.tcpRejected),
  };
}
