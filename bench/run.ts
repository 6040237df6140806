// `npm run bench [-- NAME...]`: runs the named benchmarks (default: kvstore, pki, ipam), each as
// its own process printing ratios against a baseline measured in the same run. Not part of the
// test suite. The rest need root and namespaces and take minutes: join, dataplane,
// dataplane-e2e, dispatcher, dns, lb; transport-memory needs no root (the floor under dispatcher memory).
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : ['kvstore', 'pki', 'ipam'];
let failed = 0;
for (const name of names) {
  const file = join(here, `${name}.ts`);
  if (!/^[a-z0-9-]+$/.test(name) || !existsSync(file)) {
    console.error(`unknown benchmark ${name}`);
    process.exit(2);
  }
  console.log(`\n#### ${name}`);
  const res = spawnSync(process.execPath, ['--import', 'tsx', file], { stdio: 'inherit' });
  failed += res.status === 0 ? 0 : 1;
}
process.exit(failed === 0 ? 0 : 1);
