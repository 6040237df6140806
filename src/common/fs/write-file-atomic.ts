import { mkdir, open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface WriteFileAtomicOptions {
  /** Mode of the file; its directory is created 0700 when missing. */
  readonly mode: number;
  /**
   * Also fsync the directory after the rename, so the rename itself survives a power loss (state
   * the daemon cannot rebuild); records rewritten often skip it.
   */
  readonly syncDirectory?: boolean;
}

/**
 * Replaces `path` with `data`: written to a temporary file beside it, fsynced, then renamed over
 * the old one, so a crash leaves either the old or the new content, never a torn file. Two
 * concurrent writes of one path in a process share the temporary file: callers serialize them.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  opts: WriteFileAtomicOptions,
): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  const file = await open(tmp, 'w', opts.mode);
  try {
    await file.writeFile(data);
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  if (opts.syncDirectory) {
    const dir = await open(dirname(path), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}
