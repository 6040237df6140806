import { basename, dirname } from 'node:path';
import { NotFoundError, VxmeshError } from '../../common/errors.js';
import type { AdoptedNamespace, ExternalNamespaceDriver, ObservedInterface } from './namespace-driver.js';

/**
 * In memory: namespaces are identities reachable from paths; `/run/netns/NAME` paths name them.
 * Tests create namespaces and interfaces with the helpers, and read what the code under test did.
 */
export class FakeExternalNamespaceDriver implements ExternalNamespaceDriver {
  /** Path → namespace identity (any path the runtime may hand over, and every /run/netns name). */
  readonly paths = new Map<string, number>();
  /** Namespace identity → interfaces by name. */
  readonly interfaces = new Map<number, Map<string, ObservedInterface>>();
  /** /run/netns names this driver bind-mounted. */
  readonly binds = new Set<string>();
  /** Namespaces whose /etc/netns directory was removed. */
  readonly etcRemoved: string[] = [];
  #next = 1;

  /** Creates a namespace reachable at `path` and returns its identity. */
  createNamespace(path: string): number {
    const id = this.#next++;
    this.paths.set(path, id);
    this.interfaces.set(id, new Map());
    return id;
  }

  /** Drops `path` (the runtime deleted its handle; binds keep the namespace reachable). */
  removePath(path: string): void {
    this.paths.delete(path);
  }

  /** Puts (or replaces) an interface inside the namespace at `path`. */
  setInterface(path: string, iface: ObservedInterface): void {
    const id = this.paths.get(path);
    if (id === undefined) {
      throw new Error(`no namespace at ${path}`);
    }
    this.interfaces.get(id)?.set(iface.name, iface);
  }

  /** The interfaces of /run/netns/`namespace`. */
  interfacesOf(namespace: string): Map<string, ObservedInterface> | undefined {
    const id = this.paths.get(`/run/netns/${namespace}`);
    return id === undefined ? undefined : this.interfaces.get(id);
  }

  adopt(path: string, bindPrefix: string): Promise<AdoptedNamespace> {
    const id = this.paths.get(path);
    if (id === undefined) {
      return Promise.reject(new NotFoundError('network namespace', path));
    }
    if (dirname(path) === '/run/netns') {
      return Promise.resolve({ namespace: basename(path), bound: false });
    }
    const bindName = `${bindPrefix}${id.toString(16)}`;
    const target = `/run/netns/${bindName}`;
    const existing = this.paths.get(target);
    if (existing !== undefined && existing !== id) {
      return Promise.reject(new VxmeshError('ALREADY_EXISTS', `${target} already holds another network namespace`));
    }
    this.paths.set(target, id);
    this.binds.add(bindName);
    return Promise.resolve({ namespace: bindName, bound: true });
  }

  isNamespace(path: string): Promise<boolean> {
    return Promise.resolve(this.paths.has(path));
  }

  unbind(namespace: string): Promise<void> {
    this.paths.delete(`/run/netns/${namespace}`);
    this.binds.delete(namespace);
    return Promise.resolve();
  }

  exists(namespace: string): boolean {
    return this.paths.has(`/run/netns/${namespace}`);
  }

  sameNamespace(path: string, namespace: string): Promise<boolean> {
    const a = this.paths.get(path);
    return Promise.resolve(a !== undefined && a === this.paths.get(`/run/netns/${namespace}`));
  }

  readInterface(namespace: string, ifName: string): Promise<ObservedInterface | undefined> {
    const ifaces = this.interfacesOf(namespace);
    if (!ifaces) {
      return Promise.reject(new NotFoundError('network namespace', namespace));
    }
    return Promise.resolve(ifaces.get(ifName));
  }

  removeEtc(namespace: string): Promise<void> {
    this.etcRemoved.push(namespace);
    return Promise.resolve();
  }
}
