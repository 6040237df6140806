/**
 * Kernel side of external endpoints (STYLE 9): the network namespaces another runtime created,
 * as the dataplane needs them (a name under /run/netns), and what is inside them.
 */

/** A namespace made usable by name. */
export interface AdoptedNamespace {
  /** Name under /run/netns (`ip -n NAME`). */
  readonly namespace: string;
  /** True when the name is a bind mount this call (or an earlier one) made; {@link ExternalNamespaceDriver.unbind} removes it. */
  readonly bound: boolean;
}

/** An interface as read inside a namespace. */
export interface ObservedInterface {
  readonly name: string;
  /** Lower-case, colon-separated. */
  readonly mac: string;
  /** Global addresses with prefix length, e.g. "10.0.1.5/24". */
  readonly addresses: readonly string[];
  readonly up: boolean;
}

export interface ExternalNamespaceDriver {
  /**
   * Makes the namespace at `path` usable by name. A path directly under /run/netns (or
   * /var/run/netns) is used by its basename as is; any other path (`/proc/PID/ns/net`, Docker's
   * `/var/run/docker/netns/ID`) is bind-mounted to /run/netns/`bindPrefix`<namespace inode in
   * hex>, so every attachment of one namespace shares one name. Idempotent: a bind that already
   * holds the namespace is reused. The caller unbinds once no attachment uses the name.
   * @throws NotFoundError when `path` is missing or is not a network namespace.
   */
  adopt(path: string, bindPrefix: string): Promise<AdoptedNamespace>;

  /** Whether `path` is a network namespace (an nsfs file, or a bind of one). */
  isNamespace(path: string): Promise<boolean>;

  /** Removes a bind made by {@link adopt} (unmount, then the file); a missing one is not an error. */
  unbind(namespace: string): Promise<void>;

  /** Whether /run/netns/`namespace` currently holds a network namespace. Synchronous: called while building specs. */
  exists(namespace: string): boolean;

  /** Whether `path` and /run/netns/`namespace` are the same network namespace (false when either is missing). */
  sameNamespace(path: string, namespace: string): Promise<boolean>;

  /**
   * The interface `ifName` inside `namespace`, or undefined when it has none of that name.
   * @throws NotFoundError when the namespace is missing.
   */
  readInterface(namespace: string, ifName: string): Promise<ObservedInterface | undefined>;

  /** Removes /etc/netns/`namespace` (the resolv.conf the embedded DNS wrote); missing is fine. */
  removeEtc(namespace: string): Promise<void>;
}
