import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedKvStore } from '../../src/kvstore/kv-store-embedded.js';
import { describeKvStoreContract } from './kv-store.contract.js';

// A fresh database file per test, so revisions and history start from scratch every time.
describeKvStoreContract('embedded', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'vxmesh-kv-embedded-'));
  try {
    const store = await EmbeddedKvStore.open({ path: join(dir, 'store.db') });
    return {
      store,
      dispose: async () => {
        try {
          await store.close();
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
});
