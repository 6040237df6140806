import { readFile } from 'node:fs/promises';
import type { Container } from '../gen/vxmesh/v1/container.js';
import type { TaskLog } from '../gen/vxmesh/v1/dispatcher.js';
import { ContainerRecords } from '../worker/containers/container-records.js';

/** A task's output larger than this is read from its end only (the tail is what users ask for). */
const MAX_LOG_BYTES = 4 * 1024 * 1024;

/**
 * The output of task containers on this node, as `service logs` shows it: the last `tail` lines
 * (0: all) of each container's log file. A task without a container here gets an error entry.
 */
export async function readTaskLogs(
  dataRoot: string,
  containers: readonly Container[],
  taskIds: readonly string[],
  tail: number,
): Promise<TaskLog[]> {
  const records = new ContainerRecords(dataRoot);
  return Promise.all(
    taskIds.map(async (taskId): Promise<TaskLog> => {
      const container = containers.find((c) => c.taskId === taskId);
      if (!container) {
        return { taskId, lines: [], err: 'the task has no container on this node' };
      }
      try {
        const buffer = await readFile(records.logPath(container.id));
        const text = buffer.subarray(Math.max(0, buffer.length - MAX_LOG_BYTES)).toString('utf8');
        const lines = text.split('\n');
        if (lines[lines.length - 1] === '') {
          lines.pop();
        }
        return { taskId, lines: tail > 0 ? lines.slice(-tail) : lines, err: '' };
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        return code === 'ENOENT'
          ? { taskId, lines: [], err: '' }
          : { taskId, lines: [], err: err instanceof Error ? err.message : String(err) };
      }
    }),
  );
}
