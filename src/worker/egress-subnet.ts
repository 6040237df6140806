import ipaddr from 'ipaddr.js';
import { runCommand } from '../common/run-command.js';

/** docker_gwbridge's usual subnet first, then the rest of docker's local /16 pool. */
export const EGRESS_SUBNET_CANDIDATES: readonly string[] = Array.from({ length: 14 }, (_, i) => `172.${18 + i}.0.0/16`);

interface RouteJson {
  readonly dst?: string;
  readonly dev?: string;
}

function overlaps(a: string, b: string): boolean {
  const [aAddr, aLen] = ipaddr.parseCIDR(a);
  const [bAddr, bLen] = ipaddr.parseCIDR(b);
  if (aAddr.kind() !== bAddr.kind()) {
    return false;
  }
  return aLen <= bLen ? bAddr.match(aAddr, aLen) : aAddr.match(bAddr, bLen);
}

/**
 * The first candidate subnet no route of this host's namespace overlaps, ignoring routes through
 * `ownBridge` (ours, from before a restart: keeping it keeps the containers' egress addresses).
 * A host running Docker has docker_gwbridge on 172.18.0.0/16; taking it too would break both.
 * Falls back to the first candidate when all are taken (the conflict is then logged by the caller).
 */
export async function chooseEgressSubnet(ownBridge: string): Promise<{ subnet: string; free: boolean }> {
  const { stdout } = await runCommand('ip', ['-j', 'route', 'show', 'table', 'all']);
  const routes = (JSON.parse(stdout) as RouteJson[])
    .filter((r) => r.dev !== ownBridge && r.dst !== undefined && r.dst !== 'default' && !r.dst.includes(':'))
    .map((r) => (r.dst?.includes('/') ? r.dst : `${r.dst ?? ''}/32`))
    .filter((dst) => {
      try {
        ipaddr.parseCIDR(dst);
        return true;
      } catch {
        return false;
      }
    });
  const free = EGRESS_SUBNET_CANDIDATES.find((c) => !routes.some((r) => overlaps(c, r)));
  return free ? { subnet: free, free: true } : { subnet: EGRESS_SUBNET_CANDIDATES[0] ?? '172.18.0.0/16', free: false };
}
