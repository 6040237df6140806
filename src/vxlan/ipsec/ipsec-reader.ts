/**
 * Reads the IPsec state of the daemon namespace: `ip -s xfrm state`, `ip xfrm policy` and
 * `nft -j list table inet vxmesh_ipsec`, concurrently. Only called for a spec with an
 * `encryption` section (the kernel can do IPsec).
 */
import { DAEMON_SCOPE } from '../command-runner.js';
import type { CommandRunner } from '../command-runner.js';
import { IPSEC_NFT_TABLE } from './ipsec-names.js';
import { parseIpsecNft } from './ipsec-nft.js';
import type { IpsecNftState } from './ipsec-nft.js';
import { isOurPolicy, isOurState } from './ipsec-xfrm.js';
import { parsePolicies, parseXfrmStates } from './xfrm-text.js';
import type { XfrmPolicy, XfrmState } from './xfrm-text.js';

/** What the IPsec stage diffs against. */
export interface ObservedIpsec {
  /** Our SAs (reqid) and policies (mark), with counters. */
  readonly states: readonly XfrmState[];
  readonly policies: readonly XfrmPolicy[];
  /** Undefined: the table does not exist. */
  readonly nft: IpsecNftState | undefined;
  /**
   * Something could not be read: this pass changes no IPsec state, creates no encrypted overlay
   * and leaves existing ones as they are.
   */
  readonly unknown: boolean;
  readonly errors: readonly string[];
}

function describe(r: { stdout: string; stderr: string; exitCode: number | null }): string {
  return (r.stderr.trim() || r.stdout.trim() || `exit ${String(r.exitCode)}`).slice(0, 300);
}

/** Reads our XFRM states and policies and the IPsec nft table. Never throws for a tool's failure. */
export async function readIpsec(
  runner: CommandRunner,
  options: { readonly signal?: AbortSignal } = {},
): Promise<ObservedIpsec> {
  const opts = options.signal === undefined ? {} : { signal: options.signal };
  const [states, policies, nft] = await Promise.all([
    runner.run({ tool: 'ip', scope: DAEMON_SCOPE, args: ['-s', 'xfrm', 'state', 'list'] }, opts),
    runner.run({ tool: 'ip', scope: DAEMON_SCOPE, args: ['xfrm', 'policy', 'list'] }, opts),
    runner.run({ tool: 'nft', scope: DAEMON_SCOPE, args: ['-j', 'list', 'table', 'inet', IPSEC_NFT_TABLE] }, opts),
  ]);
  const errors: string[] = [];
  if (states.exitCode !== 0) {
    errors.push(`ip xfrm state: ${describe(states)}`);
  }
  if (policies.exitCode !== 0) {
    errors.push(`ip xfrm policy: ${describe(policies)}`);
  }
  let table: IpsecNftState | undefined;
  if (nft.exitCode === 0) {
    try {
      table = parseIpsecNft(JSON.parse(nft.stdout));
    } catch (err) {
      errors.push(`nft ${IPSEC_NFT_TABLE}: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else if (!/No such file or directory/.test(nft.stderr)) {
    errors.push(`nft ${IPSEC_NFT_TABLE}: ${describe(nft)}`);
  }
  return {
    states: states.exitCode === 0 ? parseXfrmStates(states.stdout).filter(isOurState) : [],
    policies: policies.exitCode === 0 ? parsePolicies(policies.stdout).filter(isOurPolicy) : [],
    nft: table,
    unknown: errors.length > 0,
    errors,
  };
}
