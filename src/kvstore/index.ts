export * from './kv-store.js';
export { EtcdKvStore } from './kv-store-etcd.js';
export type { EtcdKvStoreOptions, EtcdTlsOptions } from './kv-store-etcd.js';
export { EmbeddedKvStore } from './kv-store-embedded.js';
export type { EmbeddedKvStoreOptions } from './kv-store-embedded.js';
