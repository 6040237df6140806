import { afterAll, beforeAll } from 'vitest';
import { EtcdKvStore } from '../../src/kvstore/kv-store-etcd.js';
import type { EtcdServer } from '../support/etcd-server.js';
import { startEtcd } from '../support/etcd-server.js';
import { kvPrefix } from '../support/kv-prefix.js';
import { describeKvStoreContract } from './kv-store.contract.js';

// The contract compacts history, which is global to an etcd; a private etcd keeps that from
// breaking watches of other test files on the shared one.
let etcd: EtcdServer | undefined;

beforeAll(async () => {
  etcd = await startEtcd();
});

afterAll(async () => {
  await etcd?.stop();
});

describeKvStoreContract('etcd', () => {
  if (!etcd) {
    throw new Error('etcd did not start');
  }
  const store = new EtcdKvStore({ endpoints: [etcd.endpoint], namespace: kvPrefix('contract') });
  return Promise.resolve({ store, dispose: () => store.close() });
});
