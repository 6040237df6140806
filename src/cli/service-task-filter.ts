import { VxmeshError } from '../common/errors.js';
import { TaskState } from '../gen/vxmesh/v1/task.js';
import type { TaskRecord } from './daemon-api.js';
import type { FilterArgs } from './filter-args.js';

/** The `--filter` keys of `service ps`, as docker's daemon accepts them for tasks. */
export const TASK_FILTERS = ['desired-state', 'id', 'name', 'node'] as const;

/** `desired-state=` values docker accepts. */
const DESIRED_STATES: Readonly<Record<string, TaskState>> = {
  running: TaskState.TASK_STATE_RUNNING,
  shutdown: TaskState.TASK_STATE_SHUTDOWN,
  accepted: TaskState.TASK_STATE_ACCEPTED,
};

/**
 * Checks the filter values that can be wrong on their own (docker's daemon refuses an unknown
 * desired state); called before connecting, so a bad filter is a usage error.
 */
export function checkTaskFilters(args: FilterArgs): void {
  for (const value of args.get('desired-state') ?? []) {
    if (!Object.hasOwn(DESIRED_STATES, value.toLowerCase())) {
      throw new VxmeshError(
        'INVALID_ARGUMENT',
        `invalid filter 'desired-state=${value}': expected running, shutdown or accepted`,
      );
    }
  }
}

function anyOf(args: FilterArgs, key: string, test: (value: string) => boolean): boolean {
  const values = args.get(key);
  return values === undefined || values.some(test);
}

/**
 * The tasks `--filter` keeps, with the semantics of docker's task filters: `desired-state` by
 * state, `id` by ID prefix, `name` by prefix of the task name (`<service>.<slot>.<task ID>`),
 * `node` by node ID or hostname. Values of one key are alternatives; different keys must all match.
 */
export function filterTasks(records: readonly TaskRecord[], args: FilterArgs): TaskRecord[] {
  return records.filter(({ task, nodeHostname }) => {
    const fullName = `${task.serviceName}.${task.slot === 0 ? task.nodeId : task.slot}.${task.id}`;
    return (
      anyOf(args, 'desired-state', (v) => DESIRED_STATES[v.toLowerCase()] === task.desiredState) &&
      anyOf(args, 'id', (v) => task.id.startsWith(v)) &&
      anyOf(args, 'name', (v) => fullName.startsWith(v)) &&
      anyOf(args, 'node', (v) => v !== '' && (v === task.nodeId || v === nodeHostname))
    );
  });
}
