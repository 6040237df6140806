import ipaddr from 'ipaddr.js';
import { InvalidArgumentError, NotFoundError, UnavailableError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import { Container, ContainerState } from '../../gen/vxmesh/v1/container.js';
import type { ContainerNetwork } from '../../gen/vxmesh/v1/container.js';
import { NamespaceAttachment } from '../../gen/vxmesh/v1/control.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import type { AttachNetworkRequest, AttachNetworkResponse } from '../../gen/vxmesh/v1/resource.js';
import type { LocalAttachment } from '../containers/container-runtime.js';
import type { EndpointRelease, ReleaseEndpoint } from '../detach/index.js';
import type { ResolverContainer } from '../dns/index.js';
import { boundNamespacePrefix, namespaceGroupId } from './attachment-id.js';
import { AttachmentRecords } from './attachment-records.js';
import type { ExternalNamespaceDriver } from './namespace-driver.js';

const log = createLogger('worker.external');

/** Linux interface names: 1 to 15 bytes, no slash, colon or whitespace, not "." or "..". */
const IF_NAME = /^[^/:\s]{1,15}$/;

/** What external endpoints need from the node; injected by the daemon (node-workload.ts). */
export interface ExternalEndpointsDeps {
  readonly dataRoot: string;
  /** Prefix of every namespace this daemon creates; bind mounts are `<prefix>x-<inode>`. */
  readonly namespacePrefix: string;
  readonly clock: Clock;
  readonly driver: ExternalNamespaceDriver;
  /** The managers' AttachNetwork (ResourceClient.attach). */
  readonly attach: (req: AttachNetworkRequest) => Promise<AttachNetworkResponse>;
  /**
   * Gives an endpoint back for good (src/worker/detach): at once, or kept as a pending detach
   * retried until the managers remove it, so a release succeeds while they are unreachable.
   */
  readonly releaseEndpoint: ReleaseEndpoint;
  /**
   * IDs of endpoints the managers hold on this node for `ownerId` (from the assignments), so a
   * detach also frees an endpoint whose local record a crash lost.
   */
  readonly endpointsOwnedBy: (ownerId: string) => string[];
  /** Refreshes the DNS and runs a dataplane pass that reads {@link ExternalEndpoints.attachments}; resolves when done. */
  readonly reconcile: () => Promise<void>;
  /** Why the last dataplane pass failed ('' if it did not), for the error when an interface does not appear. */
  readonly dataplaneError?: () => string;
  /** The embedded DNS; absent: no resolver is served in external namespaces. */
  readonly dns?: {
    /** Idempotent; @throws when the resolver cannot be bound. */
    prepare(container: ResolverContainer): Promise<void>;
    /** Never throws. */
    release(containerId: string): Promise<void>;
  };
}

/** Addresses from the managers for an attachment that has no namespace yet. */
export interface AllocateRequest {
  /** Stable key (attachment-id.ts); also the endpoint's owner ID at the managers. */
  readonly id: string;
  readonly containerId: string;
  readonly origin: string;
  /** Network name, ID or unique ID prefix. */
  readonly network: string;
  readonly ownerName: string;
  readonly ipv4Address?: string;
  readonly ipv6Address?: string;
  readonly aliases?: readonly string[];
}

/** Where an allocated attachment's interface goes. */
export interface PlugRequest {
  readonly netnsPath: string;
  readonly ifName: string;
  /** Serve the embedded resolver (127.0.0.11) in the namespace. */
  readonly dns: boolean;
}

export type AttachRequest = AllocateRequest & PlugRequest;

/** What a check compares with the record and the kernel. */
export interface CheckRequest {
  /** The namespace the runtime believes the attachment is in. */
  readonly netnsPath?: string;
  /** The network the runtime's configuration names (name or ID). */
  readonly network?: string;
  /** Addresses with prefix length the runtime was told; each must be the record's and on the interface. */
  readonly addresses?: readonly string[];
  readonly mac?: string;
}

function isPlugged(r: NamespaceAttachment): boolean {
  return r.namespace !== '' && r.ifName !== '';
}

function networkMatches(r: NamespaceAttachment, ref: string): boolean {
  return ref === r.networkId || ref === r.networkName || (ref.length > 0 && r.networkId.startsWith(ref));
}

/** Canonical "address/len" (RFC 5952 for IPv6); the input unchanged when it does not parse. */
function canonicalCidr(cidr: string): string {
  try {
    const [addr, len] = ipaddr.parseCIDR(cidr);
    return `${addr.toString()}/${len}`;
  } catch {
    return cidr;
  }
}

function addressesOf(r: NamespaceAttachment): string[] {
  return [r.ipv4Address, r.ipv6Address].filter((a) => a !== '').map(canonicalCidr);
}

/** What a pending detach records of an attachment's endpoint (only the ID for one without a local record). */
function releaseOf(id: string, endpointId: string, record: NamespaceAttachment | undefined): EndpointRelease {
  const mine = record?.endpointId === endpointId ? record : undefined;
  return {
    endpointId,
    networkId: mine?.networkId ?? '',
    networkName: mine?.networkName ?? '',
    ownerId: id,
    ownerName: record?.ownerName ?? '',
    ipv4Address: mine?.ipv4Address ?? '',
    origin: 'attachment',
  };
}

function unplugged(r: NamespaceAttachment): NamespaceAttachment {
  return { ...r, ifName: '', netnsPath: '', namespace: '', namespaceBound: false, dns: false };
}

/**
 * Endpoints in network namespaces another runtime created (CNI plugins, the Docker remote
 * driver). An attachment goes through two steps, each persisted under `<data-root>/external/`:
 *
 *     allocate (managers give addresses) ⇄ plug (interface in the namespace) ; release ⇐ allocated
 *
 * CNI does both at once ({@link attach} / {@link detach}); Docker allocates at RequestAddress or
 * CreateEndpoint and plugs at Join. Plugged attachments are local endpoints for the dataplane
 * ({@link attachments}) and askers for the embedded DNS ({@link containers}); every attachment
 * in one namespace is one "container" with one resolver.
 *
 * Operations on one attachment run one at a time, in call order; different attachments proceed
 * in parallel. Every operation is idempotent.
 */
export class ExternalEndpoints implements AsyncDisposable {
  readonly #deps: ExternalEndpointsDeps;
  readonly #records: AttachmentRecords;
  readonly #byId = new Map<string, NamespaceAttachment>();
  /** Networks seen in attach answers, so the overlay can be built before the dispatcher's push. */
  readonly networks = new Map<string, Network>();
  readonly #locks = new Map<string, Promise<unknown>>();
  /** Namespaces whose resolver was prepared: released with their last attachment. */
  readonly #resolvers = new Set<string>();
  /** Serializes namespace bookkeeping (adopt + record, last-user check + unbind). */
  #namespaceLock: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(deps: ExternalEndpointsDeps) {
    this.#deps = deps;
    this.#records = new AttachmentRecords(deps.dataRoot);
  }

  /** Loads the records and gives plugged namespaces their resolver back (its sockets died with the old daemon). */
  async load(): Promise<void> {
    for (const r of await this.#records.loadAll()) {
      this.#byId.set(r.id, r);
    }
    const dns = this.#deps.dns;
    if (dns) {
      await Promise.all(
        this.containers()
          .filter((c) => this.#groupWantsDns(c.namespace))
          .map((c) => {
            this.#resolvers.add(c.namespace);
            return dns
              .prepare(c)
              .catch((err: unknown) => log.warn({ err, namespace: c.namespace }, 'could not restore a resolver'));
          }),
      );
    }
  }

  /** Every attachment, oldest first. */
  list(): NamespaceAttachment[] {
    return [...this.#byId.values()].sort((a, b) => Number(a.createdAt - b.createdAt) || a.id.localeCompare(b.id));
  }

  get(id: string): NamespaceAttachment | undefined {
    return this.#byId.get(id);
  }

  /** Plugged attachments whose namespace exists, as local endpoints for the dataplane spec. */
  attachments(): LocalAttachment[] {
    const out: LocalAttachment[] = [];
    for (const container of this.containers()) {
      for (const network of container.networks) {
        out.push({ container, network });
      }
    }
    return out;
  }

  /**
   * One running container per namespace holding plugged attachments (and still existing), for
   * the DNS state (its endpoints and its resolver's view) and the dataplane. No egress address:
   * the runtime provides egress (another CNI network, Docker's docker_gwbridge).
   */
  containers(): Container[] {
    const groups = new Map<string, NamespaceAttachment[]>();
    for (const r of this.list()) {
      if (isPlugged(r) && r.endpointId !== '') {
        groups.set(r.namespace, [...(groups.get(r.namespace) ?? []), r]);
      }
    }
    const out: Container[] = [];
    for (const [namespace, records] of groups) {
      if (!this.#deps.driver.exists(namespace)) {
        continue;
      }
      const first = records[0];
      if (!first) {
        continue;
      }
      const networks: ContainerNetwork[] = records.map((r) => ({
        networkId: r.networkId,
        networkName: r.networkName,
        endpointId: r.endpointId,
        requestedIpv4: r.requestedIpv4,
        requestedIpv6: r.requestedIpv6,
        // Another owner name in the same namespace still resolves, as an alias on its network.
        aliases: r.ownerName !== first.ownerName ? [r.ownerName, ...r.aliases] : [...r.aliases],
        links: [],
        ipv4Address: r.ipv4Address,
        ipv6Address: r.ipv6Address,
        macAddress: r.macAddress,
        gateway: r.gateway,
        ifName: r.ifName,
      }));
      out.push(
        Container.fromPartial({
          id: namespaceGroupId(namespace),
          name: first.ownerName,
          hostname: first.ownerName,
          state: ContainerState.CONTAINER_STATE_RUNNING,
          createdAt: first.createdAt,
          namespace,
          networks,
        }),
      );
    }
    return out;
  }

  /**
   * Addresses from the managers for a new attachment, recorded without a namespace.
   * Idempotent: an existing attachment with this ID on the same network is returned as is.
   * @throws VxmeshError ALREADY_EXISTS when the ID is attached to another network; the managers'
   *   errors (network not found or not attachable, address taken, subnet exhausted, owner name taken).
   */
  allocate(req: AllocateRequest): Promise<NamespaceAttachment> {
    return this.#serialize(req.id, () => this.#allocate(req));
  }

  async #allocate(req: AllocateRequest): Promise<NamespaceAttachment> {
    this.#checkOpen();
    const existing = this.#byId.get(req.id);
    if (existing) {
      if (!networkMatches(existing, req.network)) {
        throw new VxmeshError(
          'ALREADY_EXISTS',
          `${req.containerId} is already attached to network ${existing.networkName} (asked: ${req.network})`,
        );
      }
      return existing;
    }
    if (!req.network) {
      throw new InvalidArgumentError('network', 'is required');
    }
    const res = await this.#deps.attach({
      network: req.network,
      ownerId: req.id,
      ownerName: req.ownerName,
      hostname: req.ownerName,
      ipv4Address: req.ipv4Address ?? '',
      ipv6Address: req.ipv6Address ?? '',
      aliases: [...(req.aliases ?? [])],
    });
    const endpoint = res.endpoint;
    if (!endpoint) {
      throw new VxmeshError('INTERNAL', 'the manager returned no endpoint');
    }
    if (res.network) {
      this.networks.set(res.network.id, res.network);
    }
    const record = NamespaceAttachment.fromPartial({
      id: req.id,
      containerId: req.containerId,
      origin: req.origin,
      networkId: endpoint.networkId,
      networkName: res.networkName,
      endpointId: endpoint.id,
      ownerName: req.ownerName,
      aliases: [...(req.aliases ?? [])],
      ipv4Address: endpoint.ipv4Address,
      ipv6Address: endpoint.ipv6Address,
      macAddress: endpoint.macAddress,
      gateway: res.gateway,
      otherSubnets: [...res.otherSubnets],
      requestedIpv4: req.ipv4Address ?? '',
      requestedIpv6: req.ipv6Address ?? '',
      createdAt: BigInt(this.#deps.clock.now()),
      internal: res.internal,
    });
    try {
      await this.#records.save(record);
    } catch (err) {
      await this.#deps
        .releaseEndpoint({
          endpointId: endpoint.id,
          networkId: endpoint.networkId,
          networkName: res.networkName,
          ownerId: req.id,
          ownerName: req.ownerName,
          ipv4Address: endpoint.ipv4Address,
          origin: 'attachment',
        })
        .catch((e: unknown) => log.warn({ err: e }, 'could not give an endpoint back'));
      throw err;
    }
    this.#byId.set(record.id, record);
    log.info({ id: record.id, network: record.networkName, ipv4: record.ipv4Address }, 'external endpoint allocated');
    return record;
  }

  /**
   * Puts an allocated attachment's interface into the namespace at `netnsPath` and waits until
   * it is there with its addresses. Idempotent for the same namespace and interface (the
   * kernel is brought in line again and checked).
   * @throws NotFoundError (no such attachment, or no namespace at the path); VxmeshError
   *   ALREADY_EXISTS when plugged elsewhere, or when the namespace already has an interface of
   *   that name; UnavailableError when the interface did not appear (the attachment is left
   *   unplugged) or the resolver could not be bound.
   */
  plug(id: string, req: PlugRequest): Promise<NamespaceAttachment> {
    return this.#serialize(id, () => this.#plug(id, req));
  }

  async #plug(id: string, req: PlugRequest): Promise<NamespaceAttachment> {
    this.#checkOpen();
    const record = this.#byId.get(id);
    if (!record) {
      throw new NotFoundError('attachment', id);
    }
    if (!IF_NAME.test(req.ifName) || req.ifName === '.' || req.ifName === '..') {
      throw new InvalidArgumentError(
        'interface name',
        `${JSON.stringify(req.ifName)} is not a valid Linux interface name`,
      );
    }
    if (isPlugged(record)) {
      if (record.ifName === req.ifName && (await this.#deps.driver.sameNamespace(req.netnsPath, record.namespace))) {
        await this.#ensure(record);
        return record;
      }
      throw new VxmeshError(
        'ALREADY_EXISTS',
        `${record.containerId} is already attached as ${record.ifName} in ${record.netnsPath || record.namespace}`,
      );
    }
    const plugged = await this.#withNamespaceLock(async () => {
      const adopted = await this.#deps.driver.adopt(req.netnsPath, boundNamespacePrefix(this.#deps.namespacePrefix));
      const clash = [...this.#byId.values()].find(
        (r) => r.id !== id && r.namespace === adopted.namespace && r.ifName === req.ifName,
      );
      const foreign = clash ? undefined : await this.#deps.driver.readInterface(adopted.namespace, req.ifName);
      if (clash || foreign) {
        await this.#unbindIfUnused(adopted.namespace, adopted.bound, id);
        throw new VxmeshError('ALREADY_EXISTS', `${req.netnsPath} already has an interface named ${req.ifName}`);
      }
      const next: NamespaceAttachment = {
        ...record,
        ifName: req.ifName,
        netnsPath: req.netnsPath,
        namespace: adopted.namespace,
        namespaceBound: adopted.bound,
        dns: req.dns && this.#deps.dns !== undefined,
      };
      try {
        await this.#records.save(next);
      } catch (err) {
        await this.#unbindIfUnused(adopted.namespace, adopted.bound, id);
        throw err;
      }
      this.#byId.set(id, next);
      return next;
    });
    try {
      await this.#ensure(plugged);
    } catch (err) {
      await this.#unplug(id).catch((e: unknown) => log.warn({ err: e, id }, 'could not roll a failed plug back'));
      throw err;
    }
    log.info({ id, namespace: plugged.namespace, ifName: plugged.ifName }, 'external endpoint plugged');
    return plugged;
  }

  /** Resolver (if wanted), dataplane pass, then the interface is read back. */
  async #ensure(record: NamespaceAttachment): Promise<void> {
    const dns = this.#deps.dns;
    if (record.dns && dns) {
      const group = this.containers().find((c) => c.namespace === record.namespace);
      if (group) {
        this.#resolvers.add(record.namespace);
        await dns.prepare(group);
      }
    }
    await this.#deps.reconcile();
    const problem = await this.#kernelProblem(record);
    if (problem) {
      const why = this.#deps.dataplaneError?.() ?? '';
      throw new UnavailableError(`${problem}${why ? ` (dataplane: ${why})` : ''}`);
    }
  }

  /** What is wrong with the attachment's interface in the kernel, or undefined when nothing is. */
  async #kernelProblem(record: NamespaceAttachment, mac?: string): Promise<string | undefined> {
    let iface;
    try {
      iface = await this.#deps.driver.readInterface(record.namespace, record.ifName);
    } catch (err) {
      if (err instanceof NotFoundError) {
        return `network namespace ${record.netnsPath || record.namespace} is gone`;
      }
      throw err;
    }
    if (!iface) {
      return `interface ${record.ifName} is missing from ${record.netnsPath || record.namespace}`;
    }
    const wantMac = (mac || record.macAddress).toLowerCase();
    if (wantMac && iface.mac !== wantMac) {
      return `interface ${record.ifName} has MAC ${iface.mac}, not ${wantMac}`;
    }
    const have = new Set(iface.addresses.map(canonicalCidr));
    const missing = addressesOf(record).filter((a) => !have.has(a));
    if (missing.length > 0) {
      return `interface ${record.ifName} lacks ${missing.join(', ')}`;
    }
    return undefined;
  }

  /**
   * Takes the interface out of the namespace (the record stays allocated) and, once no
   * attachment uses the namespace, its resolver and bind mount. Nothing plugged is not an error.
   */
  unplug(id: string): Promise<void> {
    return this.#serialize(id, () => this.#unplug(id));
  }

  async #unplug(id: string): Promise<void> {
    const record = this.#byId.get(id);
    if (!record || !isPlugged(record)) {
      return;
    }
    const next = unplugged(record);
    await this.#records.save(next);
    this.#byId.set(id, next);
    const { namespace } = record;
    const lastUser = ![...this.#byId.values()].some((r) => r.namespace === namespace);
    const resolver = lastUser && this.#resolvers.delete(namespace);
    if (resolver) {
      await this.#deps.dns?.release(namespaceGroupId(namespace));
    }
    await this.#deps.reconcile();
    if (lastUser) {
      if (resolver) {
        await this.#deps.driver
          .removeEtc(namespace)
          .catch((err: unknown) => log.warn({ err, namespace }, 'could not remove /etc/netns'));
      }
      await this.#withNamespaceLock(() => this.#unbindIfUnused(namespace, record.namespaceBound, id));
    }
    log.info({ id, namespace, ifName: record.ifName }, 'external endpoint unplugged');
  }

  async #unbindIfUnused(namespace: string, bound: boolean, except: string): Promise<void> {
    if (bound && ![...this.#byId.values()].some((r) => r.id !== except && r.namespace === namespace)) {
      await this.#deps.driver.unbind(namespace);
    }
  }

  /**
   * Unplugs if needed, forgets the attachment and gives its endpoint back to the managers, with
   * any other endpoint they hold on this node for the same ID (a crash between their answer and
   * the record). Nothing attached is not an error.
   * @returns whether anything was there to release.
   */
  release(id: string): Promise<boolean> {
    return this.#serialize(id, () => this.#release(id));
  }

  async #release(id: string): Promise<boolean> {
    await this.#unplug(id);
    const record = this.#byId.get(id);
    const endpoints = new Set(this.#deps.endpointsOwnedBy(id));
    if (record) {
      // Forgotten locally first: were the managers unreachable, a retry still finds the endpoint
      // through the assignments, and no kernel object waits on them.
      this.#byId.delete(id);
      await this.#records.remove(id);
      endpoints.add(record.endpointId);
    }
    // Kept as pending detaches when the managers cannot remove them now (no quorum, partition):
    // the runtime's DEL succeeds, and this node releases them once the managers answer.
    const deferred: string[] = [];
    for (const endpointId of endpoints) {
      if (endpointId) {
        const outcome = await this.#deps.releaseEndpoint(releaseOf(id, endpointId, record));
        if (outcome.state === 'deferred') {
          deferred.push(endpointId);
        }
      }
    }
    if (record || endpoints.size > 0) {
      log.info({ id, endpoints: [...endpoints], deferred }, 'external endpoint released');
    }
    return record !== undefined || endpoints.size > 0;
  }

  /**
   * allocate + plug, undone when the plug fails: a failed attach leaves no endpoint, record,
   * interface or bind mount behind.
   */
  attach(req: AttachRequest): Promise<NamespaceAttachment> {
    return this.#serialize(req.id, async () => {
      const existed = this.#byId.has(req.id);
      if (existed) {
        const current = this.#byId.get(req.id);
        if (current && isPlugged(current) && !networkMatches(current, req.network)) {
          throw new VxmeshError(
            'ALREADY_EXISTS',
            `${req.containerId} is already attached as ${current.ifName} to network ${current.networkName}`,
          );
        }
      } else if (!(await this.#deps.driver.isNamespace(req.netnsPath))) {
        // Fail before the managers are asked.
        throw new NotFoundError('network namespace', req.netnsPath);
      }
      await this.#allocate(req);
      try {
        return await this.#plug(req.id, req);
      } catch (err) {
        if (!existed) {
          await this.#release(req.id).catch((e: unknown) =>
            log.warn({ err: e, id: req.id }, 'could not undo a failed attach'),
          );
        }
        throw err;
      }
    });
  }

  /** unplug + release (CNI DEL). @returns whether anything was attached. */
  detach(id: string): Promise<boolean> {
    return this.release(id);
  }

  /** Changes the runtime's name of an allocated attachment (Docker binds an IPAM address to an endpoint). */
  rename(id: string, containerId: string): Promise<NamespaceAttachment> {
    return this.#serialize(id, async () => {
      const record = this.#byId.get(id);
      if (!record) {
        throw new NotFoundError('attachment', id);
      }
      const next = { ...record, containerId };
      await this.#records.save(next);
      this.#byId.set(id, next);
      return next;
    });
  }

  /**
   * Verifies an attachment against what the runtime believes and against the kernel.
   * @throws NotFoundError without such an attachment; VxmeshError FAILED_PRECONDITION naming
   *   the first difference.
   */
  check(id: string, req: CheckRequest): Promise<NamespaceAttachment> {
    return this.#serialize(id, async () => {
      const record = this.#byId.get(id);
      if (!record) {
        throw new NotFoundError('attachment', id);
      }
      const fail = (why: string): never => {
        throw new VxmeshError('FAILED_PRECONDITION', why);
      };
      if (!isPlugged(record)) {
        fail(`${record.containerId} has no interface plugged`);
      }
      if (req.network && !networkMatches(record, req.network)) {
        fail(`${record.containerId} is attached to network ${record.networkName}, not ${req.network}`);
      }
      if (req.netnsPath && !(await this.#deps.driver.sameNamespace(req.netnsPath, record.namespace))) {
        fail(`${req.netnsPath} is not the namespace ${record.containerId} was attached in`);
      }
      const mine = new Set(addressesOf(record));
      for (const a of req.addresses ?? []) {
        if (!mine.has(canonicalCidr(a))) {
          fail(`address ${a} is not the attachment's (${[...mine].join(', ') || 'none'})`);
        }
      }
      if (req.mac && req.mac.toLowerCase() !== record.macAddress.toLowerCase()) {
        fail(`MAC ${req.mac} is not the attachment's (${record.macAddress})`);
      }
      const problem = await this.#kernelProblem(record, req.mac);
      if (problem) {
        fail(problem);
      }
      return record;
    });
  }

  /**
   * Releases every attachment of `origin` whose (container ID, interface) is not in `valid`
   * (CNI GC). @returns the IDs released.
   */
  async gc(origin: string, valid: readonly { containerId: string; ifName: string }[]): Promise<string[]> {
    const keep = new Set(valid.map((v) => `${v.containerId}\n${v.ifName}`));
    const stale = this.list().filter((r) => r.origin === origin && !keep.has(`${r.containerId}\n${r.ifName}`));
    const released: string[] = [];
    for (const r of stale) {
      if (await this.release(r.id)) {
        released.push(r.id);
      }
    }
    return released;
  }

  #groupWantsDns(namespace: string): boolean {
    return [...this.#byId.values()].some((r) => r.namespace === namespace && r.dns);
  }

  #checkOpen(): void {
    if (this.#closed) {
      throw new VxmeshError('CLOSED', 'external endpoints are closed');
    }
  }

  #serialize<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#locks.get(id) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.#locks.set(id, settled);
    void settled.then(() => {
      if (this.#locks.get(id) === settled) {
        this.#locks.delete(id);
      }
    });
    return run;
  }

  #withNamespaceLock<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#namespaceLock.then(fn, fn);
    this.#namespaceLock = run.catch(() => undefined);
    return run;
  }

  /** Waits for operations in flight; later calls fail with CLOSED. Records and kernel state stay. */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.all([...this.#locks.values()]);
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
