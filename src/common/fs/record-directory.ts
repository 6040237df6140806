import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InvalidArgumentError } from '../errors.js';
import { createLogger } from '../logger.js';
import { writeFileAtomic } from './write-file-atomic.js';

const log = createLogger('common.records');

/** The part of a ts-proto message codec a record directory needs. */
export interface RecordCodec<T> {
  encode(message: T): { finish(): Uint8Array };
  decode(input: Uint8Array): T;
}

/** What one kind of record directory stores and how. */
export interface RecordDirectoryOptions<T> {
  /** The directory, created on the first save. */
  readonly dir: string;
  /** What a record is, for errors and logs ("attachment", "pending detach"). */
  readonly what: string;
  readonly codec: RecordCodec<T>;
  /** The record's ID, which is its file name. */
  readonly idOf: (record: T) => string;
  /** What the ID is called in the error about a bad one ("endpoint ID"). */
  readonly idField: string;
  /** IDs become file names: anything else (say "../x") is refused. */
  readonly safeId: RegExp;
  /** Also fsync the directory after a save, for records that are the only trace of something. */
  readonly syncDirectory?: boolean;
}

/**
 * Records kept as one protobuf file each (`<id>.pb`), replaced atomically (write, fsync, rename),
 * so a crash leaves the old record or the new one, never a torn file.
 */
export class RecordDirectory<T> {
  readonly #opts: RecordDirectoryOptions<T>;

  constructor(opts: RecordDirectoryOptions<T>) {
    this.#opts = opts;
  }

  #path(id: string): string {
    if (!this.#opts.safeId.test(id)) {
      throw new InvalidArgumentError(this.#opts.idField, `${JSON.stringify(id)} cannot name a record file`);
    }
    return join(this.#opts.dir, `${id}.pb`);
  }

  /** Every record; an undecodable file is logged and skipped (a bad disk, not a torn write). */
  async loadAll(): Promise<T[]> {
    let names: string[];
    try {
      names = await readdir(this.#opts.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return [];
      }
      throw err;
    }
    const out: T[] = [];
    for (const name of names.filter((n) => n.endsWith('.pb'))) {
      try {
        out.push(this.#opts.codec.decode(await readFile(join(this.#opts.dir, name))));
      } catch (err) {
        log.warn({ err, file: join(this.#opts.dir, name) }, `skipping an undecodable ${this.#opts.what} record`);
      }
    }
    return out;
  }

  async save(record: T): Promise<void> {
    await writeFileAtomic(this.#path(this.#opts.idOf(record)), this.#opts.codec.encode(record).finish(), {
      mode: 0o600,
      ...(this.#opts.syncDirectory ? { syncDirectory: true } : {}),
    });
  }

  /** Missing is not an error. */
  async remove(id: string): Promise<void> {
    await rm(this.#path(id), { force: true });
  }
}
