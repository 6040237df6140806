import { pino } from 'pino';
import type { Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Root logger: JSON lines on stderr so stdout stays free for command output. The level comes from
 * VXMESH_LOG (trace|debug|info|warn|error|silent), default info; tests default to silent.
 */
const root: Logger = pino(
  {
    level: process.env['VXMESH_LOG'] ?? (process.env['VITEST'] ? 'silent' : 'info'),
    base: { pid: process.pid },
  },
  pino.destination({ fd: 2, sync: true }),
);

/** One logger per module, named after it (`kvstore.etcd`, `manager.dispatcher`, ...). */
export function createLogger(module: string): Logger {
  return root.child({ module });
}
