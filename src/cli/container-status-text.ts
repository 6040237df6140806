import { ContainerState } from '../gen/vxmesh/v1/container.js';
import type { Container } from '../gen/vxmesh/v1/container.js';
import { humanDuration } from './human-duration.js';

/** docker's `State.Status` values that vxmesh containers can be in; "unknown" for a newer daemon's. */
export type ContainerStateName = 'created' | 'running' | 'exited' | 'unknown';

/** The lower-case state docker prints in `inspect` (`State.Status`) and `ps --format json` (`State`). */
export function containerStateName(state: ContainerState): ContainerStateName {
  switch (state) {
    case ContainerState.CONTAINER_STATE_CREATED: {
      return 'created';
    }
    case ContainerState.CONTAINER_STATE_RUNNING: {
      return 'running';
    }
    case ContainerState.CONTAINER_STATE_EXITED: {
      return 'exited';
    }
    default: {
      return 'unknown';
    }
  }
}

/** The fields the STATUS column is made of. */
export type StatusFields = Pick<Container, 'state' | 'startedAt' | 'finishedAt' | 'exitCode'>;

/**
 * The STATUS column of `ps`, as docker's daemon words it (container `State.String()`):
 * "Up 5 seconds" while running, "Created" if never started, "Exited (0) 2 minutes ago" after an
 * exit, and "" for a stopped container without a finish time. Times are Unix milliseconds.
 */
export function containerStatusText(container: StatusFields, nowMs: number): string {
  if (container.state === ContainerState.CONTAINER_STATE_RUNNING) {
    return `Up ${humanDuration(nowMs - Number(container.startedAt))}`;
  }
  if (container.startedAt === 0n) {
    return 'Created';
  }
  if (container.finishedAt === 0n) {
    return '';
  }
  return `Exited (${container.exitCode}) ${humanDuration(nowMs - Number(container.finishedAt))} ago`;
}
