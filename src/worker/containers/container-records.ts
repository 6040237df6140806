import { mkdir, readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/fs/write-file-atomic.js';
import { Container } from '../../gen/vxmesh/v1/container.js';

/**
 * Container records under `<data-root>/containers/`, one protobuf file each, replaced atomically
 * (write, fsync, rename) so a crash leaves the old or the new record.
 */
export class ContainerRecords {
  readonly #dir: string;
  /**
   * Writes and removals per container, in call order: two saves share one temporary file, and a
   * save finishing after a removal would bring the record back.
   */
  readonly #queues = new Map<string, Promise<void>>();

  constructor(dataRoot: string) {
    this.#dir = join(dataRoot, 'containers');
  }

  get logDir(): string {
    return join(this.#dir, 'logs');
  }

  logPath(id: string): string {
    return join(this.logDir, `${id}.log`);
  }

  async loadAll(): Promise<Container[]> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return [];
      }
      throw err;
    }
    const out: Container[] = [];
    for (const name of names.filter((n) => n.endsWith('.pb'))) {
      out.push(Container.decode(await readFile(join(this.#dir, name))));
    }
    return out;
  }

  save(container: Container): Promise<void> {
    return this.#serialize(container.id, () => this.#write(container));
  }

  async #write(container: Container): Promise<void> {
    await mkdir(this.logDir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(join(this.#dir, `${container.id}.pb`), Container.encode(container).finish(), { mode: 0o600 });
  }

  remove(id: string): Promise<void> {
    return this.#serialize(id, async () => {
      await rm(join(this.#dir, `${id}.pb`), { force: true });
      await rm(this.logPath(id), { force: true });
    });
  }

  #serialize(id: string, operation: () => Promise<void>): Promise<void> {
    const previous = this.#queues.get(id) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(operation);
    const tail = next.catch(() => undefined);
    this.#queues.set(id, tail);
    void tail.then(() => {
      if (this.#queues.get(id) === tail) {
        this.#queues.delete(id);
      }
    });
    return next;
  }
}
