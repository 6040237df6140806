import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DataplaneDriver } from '../vxlan/dataplane-driver.js';
import { ProcessCommandRunner } from '../vxlan/command-runner-process.js';
import type { DataplaneReconciler } from '../worker/dataplane-controller.js';

const NETNS_DIR = '/run/netns';

/**
 * The name under /run/netns of the namespace this process runs in, if it has one (a host of the
 * local demo or a test). The driver must know it: a VXLAN device's socket namespace shows up as
 * that name's ID, and without the name the driver would take every device for a misplaced one.
 */
export async function ownNamedNamespace(): Promise<string | undefined> {
  const own = (await stat('/proc/self/ns/net')).ino;
  const names = await readdir(NETNS_DIR).catch(() => [] as string[]);
  for (const name of names) {
    const st = await stat(join(NETNS_DIR, name)).catch(() => undefined);
    if (st?.ino === own) {
      return name;
    }
  }
  return undefined;
}

/** The real kernel driver: `ip`/`bridge`/`nft` batches in the daemon's own network namespace. */
export async function createKernelDriver(): Promise<DataplaneReconciler> {
  const daemonNamespace = await ownNamedNamespace();
  const driver = new DataplaneDriver({
    runner: new ProcessCommandRunner(),
    ...(daemonNamespace === undefined ? {} : { daemonNamespace }),
  });
  return { reconcile: (spec, signal) => driver.reconcile(spec, signal ? { signal } : {}) };
}
