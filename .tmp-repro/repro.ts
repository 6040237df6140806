import { EmbeddedKvStore } from '../src/kvstore/index.js';
import { joinCluster } from '../src/worker/join-cluster.js';
import { parseHostPort } from '../src/common/net/host-port.js';
import { DispatcherClient } from '../src/gen/vxmesh/v1/dispatcher.js';
import { clusterChannelOptions, mutualTlsCredentials } from '../src/worker/cluster-channel.js';
import { NodeAvailability } from '../src/gen/vxmesh/v1/node.js';
import { initializeCluster } from '../src/manager/cluster-init.js';
import { Manager } from '../src/manager/manager.js';
import { systemClock } from '../src/common/clock.js';
import { freePort } from '../test/support/etcd-server.js';

process.on('unhandledRejection', (e) => { console.log('UNHANDLED REJECTION in manager process:', (e as Error).message); process.exit(3); });
const store = await EmbeddedKvStore.open({ path: ':memory:' });
const addr = `127.0.0.1:${await freePort()}`;
const init = await initializeCluster(store, { hostname: 'm', advertiseAddr: addr, dataPathAddr: '127.0.0.1' }, systemClock);
const manager = await Manager.start({ store, nodeId: init.nodeId, identity: init.identity, listen: parseHostPort(addr, 2377, 'l'), advertiseAddr: addr, clock: systemClock });
const j = await joinCluster({ remote: parseHostPort(addr, 2377, 'r'), token: init.tokens.worker, hostname: 'a', advertiseAddr: '127.0.0.5:2377', dataPathAddr: '127.0.0.5', availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE });
const client = new DispatcherClient(addr, mutualTlsCredentials(j.identity), clusterChannelOptions);
for (let round = 0; round < 3; round++) { console.log('round', round);
  const s1 = client.session({ hostname: 'a', advertiseAddr: '', dataPathAddr: '' });
  const s2 = client.session({ hostname: 'a', advertiseAddr: '', dataPathAddr: '' });
  for (const s of [s1, s2]) { s.on('error', (e: Error) => console.log('client stream error:', e.message)); s.on('data', () => console.log('client got session message')); }
  await new Promise((r) => setTimeout(r, 500));
  s1.cancel(); s2.cancel();
  await new Promise((r) => setTimeout(r, 9000));
}
console.log('no crash');
client.close();
await manager.close();
await store.close();
