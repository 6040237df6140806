#!/usr/bin/env node
// Bundles the compiled CLI into one file. Every CLI command starts a fresh Node process, and
// loading some 150 ESM modules one by one costs more than the command itself: measured here,
// `vxmesh --help` takes 130 ms unbundled and 90 ms bundled. The daemon stays unbundled.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/cli/vxmesh.js'],
  outfile: 'dist/cli/vxmesh.bundle.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // CommonJS dependencies bundled into ESM still call require for Node built-ins.
  banner: { js: "import { createRequire as vxmeshCreateRequire } from 'node:module'; const require = vxmeshCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
