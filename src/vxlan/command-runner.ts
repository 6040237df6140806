/**
 * The one seam between the dataplane driver and the kernel: every read and write is an
 * iproute2 / nftables / sysctl command line. The real runner spawns the tools; the fake one
 * interprets the same lines against an in-memory kernel, so the driver's logic is tested without
 * root.
 */

/** The tools the driver uses. */
export type KernelTool = 'ip' | 'bridge' | 'nft' | 'sysctl';

/**
 * Where a command runs.
 * - `daemon`: the daemon's own network namespace (the runner's base namespace: the host's, or a
 *   test host's namespace).
 * - `netns`: a named network namespace (`/run/netns/<name>`).
 * - `registry`: no namespace switch at all, for `ip netns add|del`. Those must never run under
 *   `ip -n` or `ip netns exec`: both enter a private mount namespace, where the bind mount of a
 *   new namespace is invisible to everyone else and an unmount does not propagate.
 */
export type CommandScope =
  | { readonly kind: 'daemon' }
  | { readonly kind: 'netns'; readonly name: string }
  | { readonly kind: 'registry' };

/** One command line, without the namespace selection (the runner adds it). */
export interface KernelCommand {
  readonly tool: KernelTool;
  readonly scope: CommandScope;
  readonly args: readonly string[];
  /** Written to stdin, which is then closed (batch input: `-batch -`, `nft -f -`). */
  readonly input?: string;
}

/** Outcome of a command that ran; a non-zero exit is data, not an exception. */
export interface KernelCommandResult {
  readonly stdout: string;
  readonly stderr: string;
  /** Exit code; null when killed by a signal. */
  readonly exitCode: number | null;
}

/**
 * Runs kernel tool commands.
 * Contract: resolves with the exit code and output of every command that could be started,
 * whatever its exit code; rejects only when the tool cannot be started (e.g. ENOENT) or when
 * `signal` aborts (the process is then killed). Safe to call concurrently.
 */
export interface CommandRunner {
  run(command: KernelCommand, options?: { readonly signal?: AbortSignal }): Promise<KernelCommandResult>;
}

/** The daemon-namespace scope (a constant, so callers do not allocate one per command). */
export const DAEMON_SCOPE: CommandScope = { kind: 'daemon' };

/** The registry scope, for `ip netns add|del`. */
export const REGISTRY_SCOPE: CommandScope = { kind: 'registry' };

/** Scope of a named namespace. */
export function netnsScope(name: string): CommandScope {
  return { kind: 'netns', name };
}

/** A short label of a scope for logs and reports: "" for the daemon namespace, the name otherwise. */
export function scopeLabel(scope: CommandScope): string {
  switch (scope.kind) {
    case 'daemon':
    case 'registry': {
      return '';
    }
    case 'netns': {
      return scope.name;
    }
  }
}
