import { PublishMode } from '../gen/vxmesh/v1/service.js';
import type { PortConfig } from '../gen/vxmesh/v1/service.js';
import { SHORT_ID_LENGTH, commandLine, ellipsis } from './container-list-format.js';
import type { ServiceRecord } from './daemon-api.js';
import { naturalCompare } from './natural-compare.js';
import { protocolText, serviceModeText } from './service-text.js';
import { formatTable } from './table.js';

/**
 * One `service ls` row with docker's field names and values (docker/cli service formatter), which
 * is also what `--format json` prints: every field a string, keys in the order docker's
 * `{{json .}}` emits them (alphabetical).
 */
export interface ServiceListEntry {
  /** 12 characters, as docker always cuts them here. */
  readonly ID: string;
  /** The command line the tasks run, cut to 20 characters: vxmesh services have no image. */
  readonly Image: string;
  /** "replicated" or "global". */
  readonly Mode: string;
  readonly Name: string;
  /** Ingress-mode published ports, grouped into ranges as docker does ("*:8080-8081->80-81/tcp"). */
  readonly Ports: string;
  /** Running tasks / desired tasks ("3/5"), both modes. */
  readonly Replicas: string;
}

/** The header of `service ls`, as docker prints it. */
export const SERVICE_LIST_HEADER = ['ID', 'NAME', 'MODE', 'REPLICAS', 'IMAGE', 'PORTS'] as const;

/** Width the IMAGE column (here: the command) is cut to, as `ps` cuts COMMAND. */
export const SERVICE_COMMAND_WIDTH = 20;

/** Go's uint32 `a - b`: a port below the range's end wraps to a huge gap, as in docker's code. */
function gap(a: number, b: number): number {
  return (a - b) >>> 0;
}

interface PortRange {
  readonly protocol: string;
  readonly publishedStart: number;
  readonly publishedEnd: number;
  readonly targetStart: number;
  readonly targetEnd: number;
}

function rangeText(range: PortRange): string {
  const published =
    range.publishedEnd > range.publishedStart
      ? `${range.publishedStart}-${range.publishedEnd}`
      : `${range.publishedStart}`;
  const target =
    range.targetEnd > range.targetStart ? `${range.targetStart}-${range.targetEnd}` : `${range.targetStart}`;
  return `*:${published}->${target}/${range.protocol}`;
}

/**
 * The PORTS column of `service ls` (docker's serviceContext.Ports): only ports published in
 * ingress mode (host-mode ports show per task in `service ps`), sorted by protocol then published
 * port, consecutive mappings grouped: 80->80 and 81->81 read "*:80-81->80-81/tcp", 80->80 and
 * 81->80 read "*:80-81->80/tcp".
 */
export function servicePortsText(ports: readonly PortConfig[]): string {
  const sorted = ports
    .filter((p) => p.publishMode !== PublishMode.PUBLISH_MODE_HOST)
    .map((p) => ({ protocol: protocolText(p.protocol), published: p.publishedPort, target: p.targetPort }))
    .sort((a, b) => (a.protocol === b.protocol ? a.published - b.published : a.protocol < b.protocol ? -1 : 1));
  const texts: string[] = [];
  let range: PortRange = { protocol: '', publishedStart: 0, publishedEnd: 0, targetStart: 0, targetEnd: 0 };
  for (const port of sorted) {
    const isRange = range.targetEnd !== range.targetStart;
    const overlaps = port.target <= range.targetEnd;
    if (
      port.protocol !== range.protocol ||
      gap(port.published, range.publishedEnd) > 1 ||
      gap(port.target, range.targetEnd) > 1 ||
      (isRange && overlaps)
    ) {
      if (range.publishedStart > 0) {
        texts.push(rangeText(range));
      }
      range = {
        protocol: port.protocol,
        publishedStart: port.published,
        publishedEnd: port.published,
        targetStart: port.target,
        targetEnd: port.target,
      };
      continue;
    }
    range = { ...range, publishedEnd: port.published, targetEnd: port.target };
  }
  if (range.publishedStart > 0) {
    texts.push(rangeText(range));
  }
  return texts.join(', ');
}

/** The command as the IMAGE column shows it: docker's `ps` joining, cut unless `trunc` is false. */
export function serviceCommandText(command: readonly string[], trunc = true): string {
  const line = commandLine(command);
  return trunc ? ellipsis(line, SERVICE_COMMAND_WIDTH) : line;
}

/** docker's `service ls` rows, sorted like docker: by name in natural order. */
export function serviceListEntries(records: readonly ServiceRecord[]): ServiceListEntry[] {
  return [...records]
    .sort((a, b) => naturalCompare(a.service.spec.name, b.service.spec.name))
    .map(({ service, runningTasks, desiredTasks }) => ({
      ID: service.id.slice(0, SHORT_ID_LENGTH),
      Image: serviceCommandText(service.spec.command),
      Mode: serviceModeText(service.spec.mode),
      Name: service.spec.name,
      Ports: servicePortsText(service.spec.ports),
      Replicas: `${runningTasks}/${desiredTasks}`,
    }));
}

/** The default `service ls` table. */
export function formatServiceTable(entries: readonly ServiceListEntry[]): string {
  return formatTable([
    SERVICE_LIST_HEADER,
    ...entries.map((e) => [e.ID, e.Name, e.Mode, e.Replicas, e.Image, e.Ports]),
  ]);
}

/** `service ls --format json`: one compact JSON object per line, like docker's `{{json .}}`. */
export function formatServiceJsonLines(entries: readonly ServiceListEntry[]): string {
  return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
}

/** `service ls -q`: one ID per line. */
export function formatServiceIds(entries: readonly ServiceListEntry[]): string {
  return entries.map((e) => `${e.ID}\n`).join('');
}
