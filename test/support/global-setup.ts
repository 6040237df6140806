import type { TestProject } from 'vitest/node';
import { startEtcd } from './etcd-server.js';
import { sweepStaleTestHosts } from './test-hosts.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Client URL of the etcd shared by every integration test file; isolate keys with `kvPrefix()`. */
    etcdEndpoint: string;
  }
}

/**
 * Integration globalSetup: one etcd for the whole run, its endpoint provided as `etcdEndpoint`
 * (read it with `inject('etcdEndpoint')`). The returned teardown stops etcd and removes its data.
 * Tests that compact history or kill etcd must start their own with `startEtcd()` instead.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // Namespaces left by a crashed earlier run would collide with nothing, but they pile up.
  await sweepStaleTestHosts();
  const etcd = await startEtcd();
  project.provide('etcdEndpoint', etcd.endpoint);
  return async () => {
    await etcd.stop();
  };
}
