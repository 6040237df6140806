import { statSync } from 'node:fs';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { NotFoundError, VxmeshError } from '../../common/errors.js';
import { CommandFailedError, runCommand } from '../../common/run-command.js';
import type { AdoptedNamespace, ExternalNamespaceDriver, ObservedInterface } from './namespace-driver.js';

const NETNS_DIR = '/run/netns';
const NETNS_DIRS = new Set([NETNS_DIR, '/var/run/netns']);
const ETC_NETNS_DIR = '/etc/netns';

interface AddrInfo {
  readonly family?: string;
  readonly local?: string;
  readonly prefixlen?: number;
  readonly scope?: string;
}

interface IpLink {
  readonly ifname?: string;
  readonly address?: string;
  readonly flags?: readonly string[];
  readonly addr_info?: readonly AddrInfo[];
}

/** Device and inode of a file, or undefined when it is missing. */
async function identity(path: string): Promise<{ dev: number; ino: number } | undefined> {
  try {
    const s = await stat(path);
    return { dev: s.dev, ino: s.ino };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') {
      return undefined;
    }
    throw err;
  }
}

/**
 * The real driver: `mount --bind` for namespaces outside /run/netns, `ip -j` for reads. Needs
 * root, util-linux and iproute2, and the caller's mount namespace must be the one the runtime and
 * the dataplane see (vxmeshd is started with `nsenter --net`, never `ip netns exec`).
 */
export class LinuxExternalNamespaceDriver implements ExternalNamespaceDriver {
  /** Device number of nsfs: every network namespace file (and bind of one) is on it. */
  #nsfsDev: number | undefined;

  async #isNetns(path: string): Promise<{ dev: number; ino: number } | undefined> {
    this.#nsfsDev ??= (await stat('/proc/self/ns/net')).dev;
    const id = await identity(path);
    return id && id.dev === this.#nsfsDev ? id : undefined;
  }

  async adopt(path: string, bindPrefix: string): Promise<AdoptedNamespace> {
    const full = resolve(path);
    const source = await this.#isNetns(full);
    if (!source) {
      throw new NotFoundError('network namespace', path);
    }
    if (NETNS_DIRS.has(dirname(full))) {
      return { namespace: basename(full), bound: false };
    }
    const bindName = `${bindPrefix}${source.ino.toString(16)}`;
    const target = join(NETNS_DIR, bindName);
    const existing = await this.#isNetns(target);
    if (existing) {
      if (existing.ino === source.ino) {
        return { namespace: bindName, bound: true };
      }
      // The inode of a namespace that is gone was reused; our bind kept the old one alive.
      throw new VxmeshError('ALREADY_EXISTS', `${target} already holds another network namespace`);
    }
    await mkdir(NETNS_DIR, { recursive: true, mode: 0o755 });
    // The mount point must exist as a file; a leftover of a crash (unmounted) is reused.
    await writeFile(target, '', { flag: 'a', mode: 0o444 });
    try {
      await runCommand('mount', ['--bind', full, target]);
    } catch (err) {
      await rm(target, { force: true });
      throw err;
    }
    return { namespace: bindName, bound: true };
  }

  async isNamespace(path: string): Promise<boolean> {
    return (await this.#isNetns(resolve(path))) !== undefined;
  }

  async unbind(namespace: string): Promise<void> {
    const target = join(NETNS_DIR, namespace);
    if (await this.#isNetns(target)) {
      // -l: a namespace some process still uses (a helper in flight) must not fail the detach.
      await runCommand('umount', ['-l', target]).catch((err: unknown) => {
        if (!(err instanceof CommandFailedError && /not mounted/.test(err.stderr))) {
          throw err;
        }
      });
    }
    await rm(target, { force: true });
  }

  exists(namespace: string): boolean {
    try {
      const s = statSync(join(NETNS_DIR, namespace));
      this.#nsfsDev ??= statSync('/proc/self/ns/net').dev;
      return s.dev === this.#nsfsDev;
    } catch {
      return false;
    }
  }

  async sameNamespace(path: string, namespace: string): Promise<boolean> {
    const [a, b] = await Promise.all([this.#isNetns(resolve(path)), this.#isNetns(join(NETNS_DIR, namespace))]);
    return a !== undefined && b !== undefined && a.ino === b.ino;
  }

  async readInterface(namespace: string, ifName: string): Promise<ObservedInterface | undefined> {
    if (!this.exists(namespace)) {
      throw new NotFoundError('network namespace', namespace);
    }
    let stdout: string;
    try {
      ({ stdout } = await runCommand('ip', ['-n', namespace, '-j', 'addr', 'show', 'dev', ifName]));
    } catch (err) {
      if (err instanceof CommandFailedError && /does not exist/.test(err.stderr)) {
        return undefined;
      }
      if (err instanceof CommandFailedError && /Cannot open network namespace/.test(err.stderr)) {
        throw new NotFoundError('network namespace', namespace, { cause: err });
      }
      throw err;
    }
    const [link] = JSON.parse(stdout || '[]') as IpLink[];
    if (!link || link.ifname !== ifName) {
      return undefined;
    }
    return {
      name: ifName,
      mac: (link.address ?? '').toLowerCase(),
      addresses: (link.addr_info ?? [])
        .filter((a) => a.scope !== 'link' && a.scope !== 'host' && a.local !== undefined)
        .map((a) => `${a.local}/${a.prefixlen ?? (a.family === 'inet6' ? 128 : 32)}`),
      up: (link.flags ?? []).includes('UP'),
    };
  }

  async removeEtc(namespace: string): Promise<void> {
    if (namespace === '' || namespace.includes('/') || namespace === '.' || namespace === '..') {
      return;
    }
    await rm(join(ETC_NETNS_DIR, namespace), { recursive: true, force: true });
  }
}
