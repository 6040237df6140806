/**
 * Runs a {@link DataplanePlan}: stage after stage, the batches of a stage concurrently, each batch
 * as one process. Failed lines are reported, never thrown: the next pass reads the kernel again
 * and retries whatever is still missing (level-triggered).
 */
import { scopeLabel } from './command-runner.js';
import type { CommandRunner, KernelCommand } from './command-runner.js';
import { parseBatchErrors } from './batch-errors.js';
import type { CommandBatch, DataplanePlan } from './dataplane-plan.js';
import { mapLimited } from './map-limited.js';

/** Batches of one stage run at the same time (one process each), at most. */
const DEFAULT_CONCURRENCY = 16;

/** Outcome of {@link executePlan}. */
export interface ExecuteResult {
  /** Lines issued per namespace label ("" = daemon namespace). */
  readonly commands: Map<string, number>;
  readonly errors: string[];
  /** The batches (objects of the plan) that did not fully succeed. */
  readonly failed: Set<CommandBatch>;
}

function commandOf(batch: CommandBatch): KernelCommand {
  const input = `${batch.lines.join('\n')}\n`;
  switch (batch.tool) {
    case 'ip':
    case 'bridge': {
      // -force: keep going past a failed line, so one broken entry does not block the rest.
      return { tool: batch.tool, scope: batch.scope, args: ['-force', '-batch', '-'], input };
    }
    case 'nft': {
      // One transaction: all or nothing.
      return { tool: 'nft', scope: batch.scope, args: ['-f', '-'], input };
    }
    case 'sysctl': {
      return { tool: 'sysctl', scope: batch.scope, args: ['-q', '-w', ...batch.lines] };
    }
  }
}

function where(batch: CommandBatch): string {
  const label = scopeLabel(batch.scope);
  return `${batch.tool}${label === '' ? '' : ` in ${label}`}`;
}

async function runBatch(
  runner: CommandRunner,
  batch: CommandBatch,
  signal: AbortSignal | undefined,
): Promise<string[]> {
  const result = await runner.run(commandOf(batch), signal === undefined ? {} : { signal });
  if (result.exitCode === 0) {
    return [];
  }
  if (batch.tool === 'ip' || batch.tool === 'bridge') {
    return parseBatchErrors(result.stderr, batch.lines).map((e) =>
      e.line === 0 ? `${where(batch)}: ${e.message}` : `${where(batch)}: \`${e.command}\`: ${e.message}`,
    );
  }
  const detail = (result.stderr.trim() || `exit ${String(result.exitCode)}`).slice(0, 1000);
  return [`${where(batch)}: ${detail}`];
}

/**
 * Executes `plan`. Rejects only when a tool cannot be started or `signal` aborts; command
 * failures come back in `errors`.
 */
export async function executePlan(
  runner: CommandRunner,
  plan: DataplanePlan,
  options: { readonly signal?: AbortSignal; readonly concurrency?: number } = {},
): Promise<ExecuteResult> {
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const commands = new Map<string, number>();
  const errors: string[] = [];
  const failed = new Set<CommandBatch>();
  for (const stage of plan.stages) {
    options.signal?.throwIfAborted();
    const results = await mapLimited(stage.batches, concurrency, (b) => runBatch(runner, b, options.signal));
    for (const [i, batch] of stage.batches.entries()) {
      const label = scopeLabel(batch.scope);
      commands.set(label, (commands.get(label) ?? 0) + batch.lines.length);
      const batchErrors = results[i] ?? [];
      if (batchErrors.length > 0) {
        failed.add(batch);
      }
      errors.push(...batchErrors.map((e) => `${stage.name}: ${e}`));
    }
  }
  return { commands, errors, failed };
}
