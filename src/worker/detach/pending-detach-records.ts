import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../../common/errors.js';
import { writeFileAtomic } from '../../common/fs/write-file-atomic.js';
import { createLogger } from '../../common/logger.js';
import { PendingDetach } from '../../gen/vxmesh/v1/container.js';

const log = createLogger('worker.detach');

/** Endpoint IDs are file names: only what the managers' object IDs use (base 36), nothing like "../". */
const SAFE_ENDPOINT_ID = /^[a-zA-Z0-9_-]{1,100}$/;

/**
 * Pending detaches under `<data-root>/pending-detaches/`, one protobuf file per endpoint, replaced
 * atomically with the directory fsynced (the record is the only trace of the endpoint left on the
 * node once its owner is gone), like the container records.
 */
export class PendingDetachRecords {
  readonly #dir: string;

  constructor(dataRoot: string) {
    this.#dir = join(dataRoot, 'pending-detaches');
  }

  #path(endpointId: string): string {
    if (!SAFE_ENDPOINT_ID.test(endpointId)) {
      throw new InvalidArgumentError('endpoint ID', `${JSON.stringify(endpointId)} is not a managers' object ID`);
    }
    return join(this.#dir, `${endpointId}.pb`);
  }

  /** Every record; an undecodable file is logged and skipped (a torn write cannot happen, a bad disk can). */
  async loadAll(): Promise<PendingDetach[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return [];
      }
      throw err;
    }
    const out: PendingDetach[] = [];
    for (const name of names.filter((n) => n.endsWith('.pb'))) {
      try {
        out.push(PendingDetach.decode(await readFile(join(this.#dir, name))));
      } catch (err) {
        log.warn({ err, file: name }, 'skipping an undecodable pending detach record');
      }
    }
    return out;
  }

  async save(record: PendingDetach): Promise<void> {
    await writeFileAtomic(this.#path(record.endpointId), PendingDetach.encode(record).finish(), {
      mode: 0o600,
      syncDirectory: true,
    });
  }

  /** Missing is not an error. */
  async remove(endpointId: string): Promise<void> {
    await rm(this.#path(endpointId), { force: true });
  }
}
