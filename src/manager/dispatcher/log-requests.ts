import { randomUUID } from 'node:crypto';
import { VxmeshError } from '../../common/errors.js';
import type { LogRequest, TaskLog } from '../../gen/vxmesh/v1/dispatcher.js';

interface Pending {
  readonly nodeId: string;
  readonly resolve: (logs: TaskLog[]) => void;
  readonly timer: NodeJS.Timeout;
}

/**
 * `service logs` requests waiting for a node's answer. A request is answered once, by the node
 * it was sent to, or fails after its timeout (a node that lost its session never answers).
 */
export class LogRequests {
  readonly #pending = new Map<string, Pending>();

  /** A new request for `nodeId`; `answer` settles when the node publishes or after `timeoutMs`. */
  open(
    nodeId: string,
    taskIds: readonly string[],
    tail: number,
    timeoutMs: number,
  ): { readonly request: LogRequest; readonly answer: Promise<TaskLog[]> } {
    const requestId = randomUUID();
    const answer = new Promise<TaskLog[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(requestId);
        reject(new VxmeshError('UNAVAILABLE', `node ${nodeId} did not send the logs within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.#pending.set(requestId, { nodeId, resolve, timer });
    });
    return { request: { requestId, taskIds: [...taskIds], tail }, answer };
  }

  /** @returns false when the request is unknown (timed out) or was sent to another node. */
  answer(nodeId: string, requestId: string, logs: TaskLog[]): boolean {
    const pending = this.#pending.get(requestId);
    if (!pending || pending.nodeId !== nodeId) {
      return false;
    }
    clearTimeout(pending.timer);
    this.#pending.delete(requestId);
    pending.resolve(logs);
    return true;
  }
}
