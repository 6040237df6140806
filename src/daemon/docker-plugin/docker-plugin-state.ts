import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../common/fs/write-file-atomic.js';

/** What this node knows about one Docker network, from its CreateNetwork. */
export interface DockerNetworkEntry {
  /** The vxmesh network endpoints without a vxmesh IPAM reservation attach to; '' when every address comes from the vxmesh IPAM. */
  readonly network: string;
  /** vxmesh created `network` for this Docker network (foreign IPAM), so DeleteNetwork removes it. */
  readonly created: boolean;
}

interface StateFile {
  readonly version: 1;
  readonly networks: Record<string, DockerNetworkEntry>;
}

/**
 * The Docker plugin's own state under `<data-root>/docker-plugin/state.json`: Docker network ID
 * to vxmesh network. Written atomically on every change (Docker networks change rarely).
 * Endpoints and addresses live in the external endpoint records.
 */
export class DockerPluginState {
  readonly #dir: string;
  #networks = new Map<string, DockerNetworkEntry>();
  #loaded = false;

  constructor(dataRoot: string) {
    this.#dir = join(dataRoot, 'docker-plugin');
  }

  async #load(): Promise<void> {
    if (this.#loaded) {
      return;
    }
    try {
      const file = JSON.parse(await readFile(join(this.#dir, 'state.json'), 'utf8')) as StateFile;
      this.#networks = new Map(Object.entries(file.networks));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw err;
      }
    }
    this.#loaded = true;
  }

  async network(id: string): Promise<DockerNetworkEntry | undefined> {
    await this.#load();
    return this.#networks.get(id);
  }

  async setNetwork(id: string, entry: DockerNetworkEntry): Promise<void> {
    await this.#load();
    this.#networks.set(id, entry);
    await this.#save();
  }

  async deleteNetwork(id: string): Promise<void> {
    await this.#load();
    if (this.#networks.delete(id)) {
      await this.#save();
    }
  }

  async #save(): Promise<void> {
    const body: StateFile = { version: 1, networks: Object.fromEntries(this.#networks) };
    await writeFileAtomic(join(this.#dir, 'state.json'), `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600 });
  }
}
