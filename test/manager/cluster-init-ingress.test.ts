import { describe, expect, it } from 'vitest';
import { systemClock } from '../../src/common/clock.js';
import { initializeCluster } from '../../src/manager/cluster-init.js';
import { NetworkService } from '../../src/manager/network/network-service.js';
import { fingerprint, openTestStore } from './network-fixtures.js';

describe('swarm init and the ingress network', () => {
  it('creates ingress in the init transaction, from the pools given at init', async () => {
    const t = await openTestStore('embedded');
    try {
      await initializeCluster(
        t.store,
        {
          hostname: 'm',
          advertiseAddr: '127.0.0.1:2377',
          dataPathAddr: '',
          defaultAddrPools: ['10.128.0.0/12'],
          defaultAddrPoolMaskLength: 20,
        },
        systemClock,
      );
      const view = await new NetworkService(t.store, systemClock).get('ingress');
      expect(view.network).toMatchObject({
        ingress: true,
        attachable: false,
        options: { 'com.docker.network.driver.overlay.vxlanid_list': '4096' },
        subnets: [{ subnet: '10.128.0.0/20', gateway: '10.128.0.1', vni: 4096, automatic: true }],
      });
    } finally {
      await t.dispose();
    }
  });

  it('is all-or-nothing: leftover network state in the namespace fails init and writes nothing', async () => {
    const t = await openTestStore('embedded');
    try {
      await t.store.put('v1/ipam/vnis/cursor', '4096');
      const before = await fingerprint(t.store);
      const init = initializeCluster(
        t.store,
        { hostname: 'm', advertiseAddr: '127.0.0.1:2377', dataPathAddr: '' },
        systemClock,
      );
      await expect(init).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      await expect(init).rejects.toThrow(/holds network state of an earlier cluster/);
      expect(await fingerprint(t.store)).toEqual(before);
    } finally {
      await t.dispose();
    }
  });
});
