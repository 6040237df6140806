import { createTestHosts } from '../support/test-hosts.js';
import { startVxmeshd, destroyAll, parseNodeLs, waitFor } from '../support/vxmeshd-harness.js';
const hosts = await createTestHosts({ count: 3 });
const ds = [];
try {
  const t0 = Date.now();
  ds.push(...await Promise.all([0,1,2].map((i) => startVxmeshd(hosts, i))));
  console.log('started', Date.now() - t0);
  const [d0, d1, d2] = ds;
  const init = await d0!.cli(['swarm', 'init', '--advertise-addr', '198.51.100.10']);
  console.log(init);
  const line = init.stdout.split('\n').find((l) => l.includes('swarm join'))!.trim();
  const words = line.split(/\s+/).slice(1);
  const t1 = Date.now();
  console.log(await d1!.cli(words), Date.now() - t1);
  console.log(await d2!.cli(words), Date.now() - t1);
  const ls = await waitFor(async () => { const r = await d0!.cliOk(['node','ls']); const rows = parseNodeLs(r); return rows.filter(x=>x.status==='Ready').length===3 && r; }, 10000);
  console.log(ls, Date.now() - t1);
  console.log(await d1!.cli(['node','ls']));
  console.log(await d0!.cli(['node','inspect','host1']));
  console.log(await d1!.logTail(20));
} finally {
  await destroyAll(ds);
  await hosts.destroy();
}
