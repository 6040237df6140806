import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { format, resolveConfig } from 'prettier';
import { afterAll, describe, expect, it } from 'vitest';

// Regenerates src/gen exactly as `npm run proto` does (buf generate, then prettier with the repo
// config) into a temp dir, so a .proto edit without a regeneration fails the unit run.

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
const committedGen = join(repoRoot, 'src/gen');

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(dir, join(e.parentPath, e.name)))
    .sort();
}

describe('src/gen', () => {
  const tempDirs: string[] = [];
  afterAll(async () => {
    await Promise.all(tempDirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  // buf plus prettier over every generated file: seconds, more than the unit default on a busy machine.
  it('matches a fresh `npm run proto`', { timeout: 60_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'vxmesh-proto-'));
    tempDirs.push(out);
    // `-o` re-roots every plugin's `out:` under the temp dir, so the template is used unchanged.
    await run(join(repoRoot, 'node_modules/.bin/buf'), ['generate', '-o', out], { cwd: repoRoot });
    const freshGen = join(out, 'src/gen');

    const fresh = await listFiles(freshGen);
    const committed = await listFiles(committedGen);
    const stale: string[] = [];
    for (const file of fresh) {
      if (!committed.includes(file)) {
        stale.push(`${file} (missing)`);
        continue;
      }
      // Format as if the file sat in src/gen, so the repo's prettier config and overrides apply.
      const options = (await resolveConfig(join(committedGen, file))) ?? {};
      const expected = await format(await readFile(join(freshGen, file), 'utf8'), {
        ...options,
        filepath: join(committedGen, file),
      });
      if (expected !== (await readFile(join(committedGen, file), 'utf8'))) {
        stale.push(`${file} (differs)`);
      }
    }
    for (const file of committed) {
      if (!fresh.includes(file)) {
        stale.push(`${file} (no longer generated)`);
      }
    }
    expect(stale, 'src/gen is stale; run `npm run proto`').toEqual([]);
  });
});
