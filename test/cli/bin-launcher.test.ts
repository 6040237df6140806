import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

// bin/vxmesh must find the checkout it belongs to through the symlinks `npm install -g .` makes,
// so it is copied into a scratch "checkout" whose dist holds a stub that echoes its arguments.

const run = promisify(execFile);
const launcher = join(import.meta.dirname, '../../bin/vxmesh');

describe('bin/vxmesh launcher', () => {
  let dir: string;
  let repo: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'vxmesh-bin-'));
    repo = join(dir, 'checkout');
    await mkdir(join(repo, 'bin'), { recursive: true });
    await mkdir(join(repo, 'dist/cli'), { recursive: true });
    await copyFile(launcher, join(repo, 'bin/vxmesh'));
    await writeFile(join(repo, 'dist/cli/vxmesh.bundle.js'), 'console.log(JSON.stringify(process.argv.slice(2)));\n');
    // What npm does: <prefix>/bin/vxmesh -> ../lib/node_modules/vxmesh/bin/vxmesh, a relative
    // link to a package directory that is itself a link to the checkout.
    await mkdir(join(dir, 'prefix/bin'), { recursive: true });
    await mkdir(join(dir, 'prefix/lib/node_modules'), { recursive: true });
    await symlink(repo, join(dir, 'prefix/lib/node_modules/vxmesh'));
    await symlink('../lib/node_modules/vxmesh/bin/vxmesh', join(dir, 'prefix/bin/vxmesh'));
  });

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('runs dist/cli/vxmesh.bundle.js with the arguments unchanged, through symlinks', async () => {
    const { stdout } = await run('/bin/sh', [join(dir, 'prefix/bin/vxmesh'), 'node', 'ls', '--format', 'a b']);
    expect(JSON.parse(stdout)).toEqual(['node', 'ls', '--format', 'a b']);
  });

  it('tells the user to build when dist is missing', async () => {
    await rm(join(repo, 'dist'), { recursive: true });
    const err = await run('/bin/sh', [join(dir, 'prefix/bin/vxmesh')]).then(
      () => undefined,
      (e: unknown) => e as { code: number; stderr: string },
    );
    expect(err?.code).toBe(1);
    expect(err?.stderr).toMatch(
      /^Error: .*dist\/cli\/vxmesh\.bundle\.js is missing: run 'npm run build' in .*checkout first\n$/,
    );
  });
});
