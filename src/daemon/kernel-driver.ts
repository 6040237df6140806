import { DataplaneDriver } from '../vxlan/dataplane-driver.js';
import { ProcessCommandRunner } from '../vxlan/command-runner-process.js';
import type { DataplaneReconciler } from '../worker/dataplane-controller.js';

/** The real kernel driver: `ip`/`bridge`/`nft` batches in the daemon's own network namespace. */
export function createKernelDriver(): DataplaneReconciler {
  const driver = new DataplaneDriver({ runner: new ProcessCommandRunner() });
  return { reconcile: (spec, signal) => driver.reconcile(spec, signal ? { signal } : {}) };
}
