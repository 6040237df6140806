import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { InternalError } from '../common/errors.js';
import { writeFileAtomic } from '../common/fs/write-file-atomic.js';
import type { TlsIdentity } from '../common/tls/mutable-certificate-provider.js';

/** Where a member's state lives: which store managers use. */
export type StoreLocation =
  { readonly kind: 'embedded' } | { readonly kind: 'etcd'; readonly endpoints: readonly string[] };

/** What a node must remember across restarts to rejoin its cluster without help. */
export interface NodeState {
  readonly version: 1;
  readonly nodeId: string;
  readonly clusterId: string;
  readonly role: 'manager' | 'worker';
  readonly managerAddrs: readonly string[];
  /** "host:port" the cluster API listens on when this node is a manager. */
  readonly listenAddr: string;
  readonly advertiseAddr: string;
  readonly dataPathAddr: string;
  readonly store: StoreLocation;
  /** The cluster's VXLAN port as last heard from a manager (so a restart can program the kernel offline). */
  readonly dataPathPort?: number;
}

/**
 * The daemon's files under --data-root. Every write goes to a temporary file that is fsynced and
 * renamed over the old one, so a crash leaves either the old or the new version, never a torn one.
 */
export class NodeStateFiles {
  readonly root: string;

  constructor(dataRoot: string) {
    this.root = dataRoot;
  }

  get storeDir(): string {
    return join(this.root, 'store');
  }

  #path(name: string): string {
    return join(this.root, name);
  }

  #writeAtomic(path: string, data: string | Uint8Array, mode: number): Promise<void> {
    return writeFileAtomic(path, data, { mode, syncDirectory: true });
  }

  async #readOptional(name: string): Promise<string | undefined> {
    try {
      return await readFile(this.#path(name), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw err;
    }
  }

  /** The saved state, or undefined when this node is not a member of a cluster. */
  async loadState(): Promise<NodeState | undefined> {
    const text = await this.#readOptional('state.json');
    if (text === undefined) {
      return undefined;
    }
    try {
      return JSON.parse(text) as NodeState;
    } catch (err) {
      throw new InternalError(`${this.#path('state.json')} is corrupt; remove it to reset this node`, { cause: err });
    }
  }

  async saveState(state: NodeState): Promise<void> {
    await this.#writeAtomic(this.#path('state.json'), `${JSON.stringify(state, null, 2)}\n`, 0o600);
  }

  async loadIdentity(): Promise<TlsIdentity | undefined> {
    const text = await this.#readOptional('certificates/node-identity.json');
    return text === undefined ? undefined : (JSON.parse(text) as TlsIdentity);
  }

  /** CA, certificate and key in one file, replaced atomically, so they can never disagree after a crash. */
  async saveIdentity(identity: TlsIdentity): Promise<void> {
    const { caPem, certPem, keyPem } = identity;
    await this.#writeAtomic(
      this.#path('certificates/node-identity.json'),
      JSON.stringify({ caPem, certPem, keyPem }),
      0o600,
    );
  }

  /** The assignments the agent applied last (protobuf bytes), so a restart starts from them. */
  async loadAssignments(): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.#path('worker/assignments.pb'));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        return undefined;
      }
      throw err;
    }
  }

  async saveAssignments(bytes: Uint8Array): Promise<void> {
    await this.#writeAtomic(this.#path('worker/assignments.pb'), bytes, 0o600);
  }

  /** Forgets the cluster: state, certificates, applied assignments and the embedded store. */
  async clear(): Promise<void> {
    await rm(this.#path('state.json'), { force: true });
    await rm(this.#path('worker'), { recursive: true, force: true });
    await rm(this.#path('certificates'), { recursive: true, force: true });
    await rm(this.storeDir, { recursive: true, force: true });
  }
}
