import type { Container } from '../gen/vxmesh/v1/container.js';
import { containerStateName, containerStatusText } from './container-status-text.js';
import { goQuote } from './go-quote.js';
import { goTimeString } from './go-time-string.js';
import { humanDuration } from './human-duration.js';
import { formatTable } from './table.js';

/**
 * One `ps` row with docker's field names and values (docker/cli container formatter), which is
 * also what `--format json` prints: every field a string, keys in the order docker's `{{json .}}`
 * emits them (alphabetical). docker's `Image` and `Size` are left out: vxmesh containers have
 * neither. `Labels`, `LocalVolumes`, `Mounts` and `Ports` keep docker's empty values.
 */
export interface ContainerListEntry {
  /** The command line in Go quotes, cut to 20 characters unless --no-trunc. */
  readonly Command: string;
  /** Go `time.Time.String()` of the creation time, whole seconds, in UTC. */
  readonly CreatedAt: string;
  /** 12 characters unless --no-trunc. */
  readonly ID: string;
  readonly Labels: string;
  readonly LocalVolumes: string;
  readonly Mounts: string;
  readonly Names: string;
  /** Network names, sorted, joined by ",". */
  readonly Networks: string;
  readonly Ports: string;
  /** "5 minutes ago". */
  readonly RunningFor: string;
  /** "created", "running" or "exited". */
  readonly State: string;
  /** "Up 5 seconds", "Exited (0) 2 minutes ago", "Created". */
  readonly Status: string;
}

/** The header of `ps`: docker's, with NETWORKS for IMAGE and PORTS, which vxmesh containers lack. */
export const CONTAINER_LIST_HEADER = ['CONTAINER ID', 'COMMAND', 'CREATED', 'STATUS', 'NETWORKS', 'NAMES'] as const;

/** docker's stringid.TruncateID length. */
export const SHORT_ID_LENGTH = 12;
/** Width docker cuts the COMMAND column to. */
const COMMAND_WIDTH = 20;

/**
 * The command line as docker's daemon joins it for `ps`: the program, then the arguments separated
 * by spaces, each argument that contains a space wrapped in single quotes.
 */
export function commandLine(command: readonly string[]): string {
  const [path = '', ...args] = command;
  if (args.length === 0) {
    return path;
  }
  return `${path} ${args.map((arg) => (arg.includes(' ') ? `'${arg}'` : arg)).join(' ')}`;
}

/**
 * docker's Ellipsis: `text` if it fits in `width` characters, else its first `width - 1` and "…".
 * Every character counts as one column (docker counts East Asian wide characters as two).
 */
export function ellipsis(text: string, width: number): string {
  const chars = [...text];
  if (chars.length <= width) {
    return text;
  }
  return `${chars.slice(0, Math.max(width - 1, 0)).join('')}…`;
}

function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * docker's `ps` rows, in the daemon's order (newest first).
 * @param trunc whether IDs and commands are cut (docker's default; off with --no-trunc).
 * @param nowMs the present, for CREATED and STATUS.
 */
export function containerListEntries(
  containers: readonly Container[],
  trunc: boolean,
  nowMs: number,
): ContainerListEntry[] {
  return containers.map((c) => {
    // docker's list API carries the creation time in whole seconds.
    const createdMs = (c.createdAt / 1000n) * 1000n;
    const line = commandLine(c.command);
    return {
      Command: goQuote(trunc ? ellipsis(line, COMMAND_WIDTH) : line),
      CreatedAt: goTimeString(createdMs),
      ID: trunc ? c.id.slice(0, SHORT_ID_LENGTH) : c.id,
      Labels: '',
      LocalVolumes: '0',
      Mounts: '',
      Names: c.name,
      Networks: c.networks
        .map((n) => n.networkName || n.networkId)
        .sort(byUtf8)
        .join(','),
      Ports: '',
      RunningFor: `${humanDuration(nowMs - Number(createdMs))} ago`,
      State: containerStateName(c.state),
      Status: containerStatusText(c, nowMs),
    };
  });
}

/** The default `ps` table. */
export function formatContainerTable(entries: readonly ContainerListEntry[]): string {
  return formatTable([
    CONTAINER_LIST_HEADER,
    ...entries.map((e) => [e.ID, e.Command, e.RunningFor, e.Status, e.Networks, e.Names]),
  ]);
}

/** `ps --format json`: one compact JSON object per line, like docker's `{{json .}}`. */
export function formatContainerJsonLines(entries: readonly ContainerListEntry[]): string {
  return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
}

/** `ps -q`: one ID per line. */
export function formatContainerIds(entries: readonly ContainerListEntry[]): string {
  return entries.map((e) => `${e.ID}\n`).join('');
}
