import { unaryHandler } from '../../common/rpc/server-handlers.js';
import type { Authorize } from '../../common/rpc/server-handlers.js';
import type { KvStore } from '../../kvstore/index.js';
import type { ClusterControlServer, ServiceTaskLog } from '../../gen/vxmesh/v1/control.js';
import type { TaskLog } from '../../gen/vxmesh/v1/dispatcher.js';
import type { Task } from '../../gen/vxmesh/v1/task.js';
import type { NodeRegistry } from '../node-registry.js';
import { resolveService } from '../services/service-records.js';
import { listAllTasks } from '../services/task-records.js';

/** What `service logs` needs beyond the store: the way to ask a node for its tasks' output. */
export interface ServiceLogsDeps {
  readonly store: KvStore;
  readonly registry: NodeRegistry;
  /** Asks a node (over its session with this manager) for the output of some of its tasks. */
  readonly requestTaskLogs: (nodeId: string, taskIds: readonly string[], tail: number) => Promise<TaskLog[]>;
}

/**
 * `service logs`: the output of every task of the service that has run on a node, asked of the
 * nodes in parallel. A node that cannot answer (no session with this manager, gone, too slow)
 * gives an entry with the reason instead of failing the whole call.
 */
export function serviceLogsHandler(deps: ServiceLogsDeps, authorize: Authorize): Pick<ClusterControlServer, 'serviceLogs'> {
  return {
    serviceLogs: unaryHandler(authorize, async (req) => {
      const { service } = await resolveService(deps.store, req.service);
      const tasks = (await listAllTasks(deps.store))
        .map(({ task }) => task)
        .filter((t) => t.serviceId === service.id && t.nodeId !== '')
        .sort((a, b) => a.slot - b.slot || Number(a.createdAt - b.createdAt));
      const byNode = new Map<string, Task[]>();
      for (const t of tasks) {
        byNode.set(t.nodeId, [...(byNode.get(t.nodeId) ?? []), t]);
      }
      const answers = new Map<string, TaskLog>();
      const hostnames = new Map<string, string>();
      await Promise.all(
        [...byNode].map(async ([nodeId, nodeTasks]) => {
          hostnames.set(nodeId, (await deps.registry.lookup(nodeId))?.hostname ?? nodeId);
          try {
            for (const log of await deps.requestTaskLogs(nodeId, nodeTasks.map((t) => t.id), req.tail)) {
              answers.set(log.taskId, log);
            }
          } catch (err) {
            for (const t of nodeTasks) {
              answers.set(t.id, { taskId: t.id, lines: [], err: err instanceof Error ? err.message : String(err) });
            }
          }
        }),
      );
      const logs: ServiceTaskLog[] = tasks.map((t) => {
        const answer = answers.get(t.id);
        return {
          taskId: t.id,
          taskName: `${t.serviceName}.${t.slot === 0 ? t.nodeId : String(t.slot)}`,
          nodeHostname: hostnames.get(t.nodeId) ?? t.nodeId,
          lines: answer?.lines ?? [],
          err: answer?.err ?? 'no answer',
        };
      });
      return { logs };
    }),
  };
}
