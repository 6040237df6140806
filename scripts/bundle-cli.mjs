#!/usr/bin/env node
// Bundles the compiled CLI into one file. Every CLI command starts a fresh Node process, and
// loading some 150 ESM modules one by one costs more than the command itself: measured here,
// `vxmesh --help` takes 130 ms unbundled and 90 ms bundled. The same goes for the CNI plugin
// (dist/cni/vxmesh-cni.bundle.js), which runtimes run per container. The daemon stays unbundled.
import { build } from 'esbuild';

const common = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // CommonJS dependencies bundled into ESM still call require for Node built-ins.
  banner: { js: "import { createRequire as vxmeshCreateRequire } from 'node:module'; const require = vxmeshCreateRequire(import.meta.url);" },
  logLevel: 'warning',
};

await build({ ...common, entryPoints: ['dist/cli/vxmesh.js'], outfile: 'dist/cli/vxmesh.bundle.js' });
// The CNI plugin too: runtimes execute it for every container's ADD, DEL and CHECK.
await build({ ...common, entryPoints: ['dist/cni/vxmesh-cni.js'], outfile: 'dist/cni/vxmesh-cni.bundle.js' });
