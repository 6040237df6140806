import type { ServiceView, TaskView } from '../../gen/vxmesh/v1/control.js';
import { ServiceMode } from '../../gen/vxmesh/v1/service.js';
import type { Task } from '../../gen/vxmesh/v1/task.js';
import { TaskState } from '../../gen/vxmesh/v1/task.js';
import type { StoredService } from './service-records.js';
import { compareText } from './service-records.js';
import { stateOf } from './task-records.js';

/**
 * A service as `service ls` / `inspect` show it: running = tasks running and wanted running;
 * desired = the replicas (replicated) or the tasks wanted running (global).
 */
export function serviceView(stored: StoredService, tasks: readonly Task[]): ServiceView {
  const { service } = stored;
  let running = 0;
  let wanted = 0;
  for (const t of tasks) {
    if (t.serviceId !== service.id || t.desiredState !== TaskState.TASK_STATE_RUNNING) {
      continue;
    }
    wanted++;
    if (stateOf(t) === TaskState.TASK_STATE_RUNNING) {
      running++;
    }
  }
  const global = service.spec?.mode === ServiceMode.SERVICE_MODE_GLOBAL;
  return {
    service,
    version: stored.modRevision,
    runningTasks: running,
    desiredTasks: global ? wanted : (service.spec?.replicas ?? 0),
  };
}

/** `service ps` order: service name, slot (global: node hostname), then newest first. */
export function compareTaskViews(a: TaskView, b: TaskView): number {
  const ta = a.task;
  const tb = b.task;
  if (!ta || !tb) {
    return 0;
  }
  return (
    compareText(ta.serviceName, tb.serviceName) ||
    ta.slot - tb.slot ||
    // Global tasks (slot 0) are grouped by node, which is their slot.
    (ta.slot === 0 ? compareText(a.nodeHostname, b.nodeHostname) || compareText(ta.nodeId, tb.nodeId) : 0) ||
    (tb.createdAt > ta.createdAt ? 1 : tb.createdAt < ta.createdAt ? -1 : 0) ||
    compareText(ta.id, tb.id)
  );
}
