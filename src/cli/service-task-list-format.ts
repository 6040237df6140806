import { SHORT_ID_LENGTH, ellipsis } from './container-list-format.js';
import type { TaskRecord } from './daemon-api.js';
import { humanDuration } from './human-duration.js';
import { naturalCompare } from './natural-compare.js';
import { serviceCommandText } from './service-list-format.js';
import { prettyTaskState, protocolText } from './service-text.js';
import { formatTable } from './table.js';

/**
 * One `service ps` row with docker's field names and values (docker/cli task formatter), which is
 * also what `--format json` prints: every field a string, keys in the order docker's `{{json .}}`
 * emits them (alphabetical).
 */
export interface TaskListEntry {
  /** "Running 5 seconds ago". */
  readonly CurrentState: string;
  /** "Running" or "Shutdown". */
  readonly DesiredState: string;
  /** The task's error in double quotes, cut to 30 characters unless --no-trunc; "" for none. */
  readonly Error: string;
  /** 12 characters unless --no-trunc. */
  readonly ID: string;
  /** The command line the task runs (vxmesh has no image), cut to 20 characters unless --no-trunc. */
  readonly Image: string;
  /** "web.1" (replicated) or "web.<node ID>" (global); earlier tasks of a slot share the name. */
  readonly Name: string;
  /** Hostname of the task's node; "" before it is scheduled. */
  readonly Node: string;
  /** Host-mode ports published straight to this task: "*:8080->80/tcp", joined by ",". */
  readonly Ports: string;
}

/** The header of `service ps`, as docker prints it. */
export const TASK_LIST_HEADER = ['ID', 'NAME', 'IMAGE', 'NODE', 'DESIRED STATE', 'CURRENT STATE', 'ERROR', 'PORTS'];

/** Width docker cuts the ERROR column to. */
const ERROR_WIDTH = 30;

/** What docker puts in front of the earlier tasks of a slot in the table. */
const HISTORY_INDENT = ' \\_ ';

/** docker's task name for `service ps`: `<service>.<slot>`, or `<service>.<node ID>` in global mode. */
export function taskDisplayName(record: TaskRecord): string {
  const { task } = record;
  return `${task.serviceName}.${task.slot === 0 ? task.nodeId : task.slot}`;
}

/**
 * Tasks in docker's `service ps` order: by name in natural order, so every slot's tasks are
 * together, and within a slot newest first. The sort is stable, as docker's sort.Stable is.
 */
export function sortedTasks(records: readonly TaskRecord[]): TaskRecord[] {
  const named = records.map((record) => ({ record, name: taskDisplayName(record) }));
  named.sort((a, b) => naturalCompare(a.name, b.name) || Number(b.record.task.createdAt - a.record.task.createdAt));
  return named.map(({ record }) => record);
}

/**
 * docker's `service ps` rows, sorted as docker sorts them: by name in natural order, so every
 * slot's tasks are together, and within a slot newest first.
 * @param trunc whether IDs, commands and errors are cut (docker's default; off with --no-trunc).
 * @param nowMs the present, for CURRENT STATE.
 */
export function taskListEntries(records: readonly TaskRecord[], trunc: boolean, nowMs: number): TaskListEntry[] {
  return sortedTasks(records).map((record) => {
    const name = taskDisplayName(record);
    const { task } = record;
    const { status } = task;
    const changedAt = status.timestamp === 0n ? task.updatedAt : status.timestamp;
    const err = trunc ? ellipsis(status.err, ERROR_WIDTH) : status.err;
    return {
      CurrentState: `${prettyTaskState(status.state)} ${humanDuration(nowMs - Number(changedAt)).toLowerCase()} ago`,
      DesiredState: prettyTaskState(task.desiredState),
      Error: err === '' ? '' : `"${err}"`,
      ID: trunc ? task.id.slice(0, SHORT_ID_LENGTH) : task.id,
      Image: serviceCommandText(task.command, trunc),
      Name: name,
      Node: record.nodeHostname,
      Ports: task.hostPorts.map((p) => `*:${p.publishedPort}->${p.targetPort}/${protocolText(p.protocol)}`).join(','),
    };
  });
}

/** The default `service ps` table: a slot's earlier tasks are indented with " \_ ", as in docker. */
export function formatTaskTable(entries: readonly TaskListEntry[]): string {
  let previous = '';
  const rows = entries.map((e) => {
    const name = e.Name === previous ? `${HISTORY_INDENT}${e.Name}` : e.Name;
    previous = e.Name;
    return [e.ID, name, e.Image, e.Node, e.DesiredState, e.CurrentState, e.Error, e.Ports];
  });
  return formatTable([TASK_LIST_HEADER, ...rows]);
}

/** `service ps --format json`: one compact JSON object per line, like docker's `{{json .}}`. */
export function formatTaskJsonLines(entries: readonly TaskListEntry[]): string {
  return entries.map((e) => `${JSON.stringify(e)}\n`).join('');
}

/** `service ps -q`: one ID per line. */
export function formatTaskIds(entries: readonly TaskListEntry[]): string {
  return entries.map((e) => `${e.ID}\n`).join('');
}
