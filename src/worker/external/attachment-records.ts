import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { NamespaceAttachment } from '../../gen/vxmesh/v1/control.js';
import { writeFileAtomic } from '../../common/fs/write-file-atomic.js';
import { createLogger } from '../../common/logger.js';

const log = createLogger('worker.external');

/** Attachment IDs are file names: only these characters (see attachment-id.ts). */
const SAFE_ID = /^[a-z0-9-]{1,100}$/;

/**
 * Namespace attachments under `<data-root>/external/`, one protobuf file each, replaced atomically
 * (write, fsync, rename) so a crash leaves the old or the new record.
 */
export class AttachmentRecords {
  readonly #dir: string;

  constructor(dataRoot: string) {
    this.#dir = join(dataRoot, 'external');
  }

  #path(id: string): string {
    if (!SAFE_ID.test(id)) {
      throw new Error(`unsafe attachment id ${JSON.stringify(id)}`);
    }
    return join(this.#dir, `${id}.pb`);
  }

  /** Every record; an undecodable file is logged and skipped. */
  async loadAll(): Promise<NamespaceAttachment[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return [];
      }
      throw err;
    }
    const out: NamespaceAttachment[] = [];
    for (const name of names.filter((n) => n.endsWith('.pb'))) {
      try {
        out.push(NamespaceAttachment.decode(await readFile(join(this.#dir, name))));
      } catch (err) {
        log.warn({ err, file: name }, 'skipping an undecodable attachment record');
      }
    }
    return out;
  }

  async save(record: NamespaceAttachment): Promise<void> {
    await writeFileAtomic(this.#path(record.id), NamespaceAttachment.encode(record).finish(), { mode: 0o600 });
  }

  async remove(id: string): Promise<void> {
    await rm(this.#path(id), { force: true });
  }
}
