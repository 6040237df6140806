import { scopeLabel } from './command-runner.js';
import type { CommandScope, KernelTool } from './command-runner.js';

/**
 * The stages of one reconcile pass, in execution order. Each stage runs all its batches
 * concurrently; a stage starts when the previous one has finished.
 * - `teardown`: link deletions that something later in the pass depends on (a VXLAN device whose
 *   VNI is about to be taken again, a veth whose container-side name is about to be reused) and
 *   the links of stale overlay namespaces (deleted synchronously: namespace destruction is
 *   asynchronous and would leave the VNI taken for a while).
 * - `registry`: `ip netns del` of stale overlay namespaces, `ip netns add` of new ones.
 * - `ipsec`: encrypted overlays (ipsec/README.md): one `ip xfrm` batch (SAs, policies; new
 *   ones before the old go) and one `nft -f -` transaction of the `inet vxmesh_ipsec` table, in
 *   the daemon namespace, before anything below can create a VXLAN device.
 * - `daemon`: the daemon namespace (VXLAN devices are created here, directly into their overlay
 *   namespace, so their UDP sockets live here), the egress bridge and veths, the nft transaction,
 *   sysctls.
 * - `overlay`: per overlay namespace one `ip` batch (bridges, ports, veths, neighbours) and one
 *   `bridge` batch (FDB), concurrently.
 * - `container`: per container namespace one `ip` batch (addresses, up, routes) of the interfaces
 *   created or owned by the driver.
 * - `lb`: load balancing (lb/README.md): per namespace one `nft -f -` transaction of its LB table
 *   (`ip vxmesh_lb`; `ip vxmesh_publish` in the daemon namespace, apart from `inet vxmesh` so a
 *   refused LB statement never holds the VXLAN guard back), and the sysctls naming interfaces
 *   created earlier in the pass (route_localnet of the egress bridge, forwarding in the sandbox).
 */
export type PlanStageName = 'teardown' | 'registry' | 'ipsec' | 'daemon' | 'overlay' | 'container' | 'lb';

/** Stage order. */
export const PLAN_STAGES: readonly PlanStageName[] = ['teardown', 'registry', 'ipsec', 'daemon', 'overlay', 'container', 'lb'];

/**
 * One process: `ip|bridge -force -batch -`, `nft -f -` (one transaction) or `sysctl -w k=v…`,
 * with `lines` as its input (or arguments, for sysctl).
 */
export interface CommandBatch {
  readonly tool: KernelTool;
  readonly scope: CommandScope;
  readonly lines: readonly string[];
}

export interface PlanStage {
  readonly name: PlanStageName;
  readonly batches: readonly CommandBatch[];
}

/** What a pass will do; empty `stages` means the kernel already matches the spec. */
export interface DataplanePlan {
  readonly stages: readonly PlanStage[];
}

function scopeKey(scope: CommandScope): string {
  return `${scope.kind}:${scopeLabel(scope)}`;
}

/**
 * Collects lines per (stage, tool, scope) in insertion order, then emits a plan with one batch per
 * key and no empty stages or batches.
 */
export class PlanBuilder {
  readonly #batches = new Map<string, { stage: PlanStageName; tool: KernelTool; scope: CommandScope; lines: string[] }>();

  add(stage: PlanStageName, tool: KernelTool, scope: CommandScope, lines: readonly string[]): void {
    if (lines.length === 0) {
      return;
    }
    const key = `${stage}\0${tool}\0${scopeKey(scope)}`;
    let batch = this.#batches.get(key);
    if (batch === undefined) {
      batch = { stage, tool, scope, lines: [] };
      this.#batches.set(key, batch);
    }
    // Not push(...lines): spreading a 50k-line batch would overflow the call stack.
    for (const line of lines) {
      batch.lines.push(line);
    }
  }

  build(): DataplanePlan {
    const stages: PlanStage[] = [];
    for (const name of PLAN_STAGES) {
      const batches = [...this.#batches.values()]
        .filter((b) => b.stage === name && b.lines.length > 0)
        .map((b) => ({ tool: b.tool, scope: b.scope, lines: b.lines }));
      if (batches.length > 0) {
        stages.push({ name, batches });
      }
    }
    return { stages };
  }
}

/** Number of command lines per namespace label ("" = daemon namespace), for the report. */
export function countPlanLines(plan: DataplanePlan): Map<string, number> {
  const counts = new Map<string, number>();
  for (const stage of plan.stages) {
    for (const batch of stage.batches) {
      const label = scopeLabel(batch.scope);
      counts.set(label, (counts.get(label) ?? 0) + batch.lines.length);
    }
  }
  return counts;
}
