#!/usr/bin/env node
// The npm registry reachable here lacks some packages that exist only for other platforms
// (@bufbuild/buf-darwin-*, -win32-*, -linux-armv7). npm then leaves them out of package-lock.json,
// and `npm ci` refuses the lock as out of sync. This script records them as optional entries
// with their os/cpu, which is what npm writes when it can see them; npm ci then skips them on
// this platform as it would anyway. Run it after any `npm install` that touches @bufbuild/buf.
import { readFileSync, writeFileSync } from 'node:fs';

const lockPath = new URL('../package-lock.json', import.meta.url);
const lock = JSON.parse(readFileSync(lockPath, 'utf8'));
const buf = lock.packages['node_modules/@bufbuild/buf'];
if (!buf) {
  process.exit(0);
}
const platforms = {
  'buf-darwin-arm64': { os: ['darwin'], cpu: ['arm64'] },
  'buf-darwin-x64': { os: ['darwin'], cpu: ['x64'] },
  'buf-linux-armv7': { os: ['linux'], cpu: ['arm'] },
  'buf-win32-arm64': { os: ['win32'], cpu: ['arm64'] },
  'buf-win32-x64': { os: ['win32'], cpu: ['x64'] },
};
let added = 0;
for (const [name, { os, cpu }] of Object.entries(platforms)) {
  const key = `node_modules/@bufbuild/${name}`;
  if (!lock.packages[key] && buf.optionalDependencies?.[`@bufbuild/${name}`]) {
    lock.packages[key] = { version: buf.version, cpu, dev: true, license: 'Apache-2.0', optional: true, os, engines: { node: '>=12' } };
    added++;
  }
}
lock.packages = Object.fromEntries(Object.entries(lock.packages).sort(([a], [b]) => (a === '' ? -1 : b === '' ? 1 : a < b ? -1 : 1)));
writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`recorded ${added} foreign-platform optional package(s) in package-lock.json`);
