import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Container } from '../../gen/vxmesh/v1/container.js';

/**
 * Container records under `<data-root>/containers/`, one protobuf file each, replaced atomically
 * (write, fsync, rename) so a crash leaves the old or the new record.
 */
export class ContainerRecords {
  readonly #dir: string;

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

  async save(container: Container): Promise<void> {
    await mkdir(this.logDir, { recursive: true, mode: 0o700 });
    const path = join(this.#dir, `${container.id}.pb`);
    const tmp = `${path}.tmp`;
    const file = await open(tmp, 'w', 0o600);
    try {
      await file.writeFile(Container.encode(container).finish());
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(tmp, path);
  }

  async remove(id: string): Promise<void> {
    await rm(join(this.#dir, `${id}.pb`), { force: true });
    await rm(this.logPath(id), { force: true });
  }
}
