import { describe, expect, it } from 'vitest';
import { UnavailableError } from '../../src/common/errors.js';
import type { KvStore, TxnRequest } from '../../src/kvstore/index.js';
import { ServiceService } from '../../src/manager/services/service-service.js';
import { UncertainCommitError } from '../../src/manager/store/uncertain-commit.js';
import { storeKeys } from '../../src/manager/store/store-keys.js';
import { Service } from '../../src/gen/vxmesh/v1/service.js';
import { serviceSpec, ServicesHarness } from './services-fixtures.js';

/** The store applies a transaction that writes a service record, then the answer is "lost". */
function losingServiceAnswers(store: KvStore): KvStore {
  return new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'txn') {
        return async (req: TxnRequest, opts?: unknown) => {
          const res = await target.txn(req, opts as never);
          if (res.succeeded && req.success.some((op) => op.type === 'put' && op.key.startsWith(storeKeys.servicesPrefix))) {
            throw new UnavailableError('connection reset while waiting for the answer');
          }
          return res;
        };
      }
      const value: unknown = Reflect.get(target, prop, receiver);
      return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

describe('a service write whose answer is lost', () => {
  it('keeps the VIPs it allocated: the service may hold them (a leak, never a duplicate)', async () => {
    await using h = await ServicesHarness.open({ orchestrate: false });
    const app = await h.createNetwork('app', '10.20.0.0/24');
    const lossy = new ServiceService(losingServiceAnswers(h.store), h.allocator, h.clock, h.registry);
    await expect(lossy.create(serviceSpec('web', { networks: [{ network: 'app', aliases: [] }] }))).rejects.toBeInstanceOf(
      UncertainCommitError,
    );
    const { kv } = await h.store.get(storeKeys.serviceName('web'));
    expect(kv, 'the create did commit').toBeDefined();
    const stored = Service.decode((await h.store.get(storeKeys.service(Buffer.from(kv?.value ?? []).toString()))).kv?.value ?? new Uint8Array());
    const vip = stored.virtualIps.find((v) => v.networkId === app.id)?.addr.split('/')[0] ?? '';
    expect(vip).toMatch(/^10\.20\.0\./);
    // Still taken: asking for exactly that address is refused.
    await expect(h.allocator.allocate(app.id, '10.20.0.0/24', { preferred: vip })).rejects.toThrow();
  });
});
