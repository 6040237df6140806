import { InvalidArgumentError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Clock } from '../../common/clock.js';
import type { Compare, KvStore, TxnOp } from '../../kvstore/index.js';
import type { ServiceView, TaskView } from '../../gen/vxmesh/v1/control.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import { Service } from '../../gen/vxmesh/v1/service.js';
import type { PortConfig, ServiceSpec } from '../../gen/vxmesh/v1/service.js';
import type { AddressAllocator } from '../ipam/address-allocator.js';
import { attachGuard, attachmentKey } from '../network/network-attachments.js';
import { getNetwork } from '../network/network-records.js';
import { newObjectId } from '../node-registry.js';
import type { NodeRegistry } from '../node-registry.js';
import { encodeMessage } from '../store/message-codec.js';
import { storeKeys } from '../store/store-keys.js';
import { fencesHold, heldAddresses, ownerFences, releaseAll, releaseHeld } from './network-addresses.js';
import type { HeldAddress } from './network-addresses.js';
import { assignPublishedPorts, portConflict, publishedPortKey } from './published-ports.js';
import { attachedNetworkIds, readIngressNetwork, resolveServiceNetworks } from './service-networks.js';
import { listServices, resolveService } from './service-records.js';
import type { StoredService } from './service-records.js';
import { changesTasks, checkServiceSpec, hasIngressPorts } from './service-spec-validation.js';
import { compareTaskViews, serviceView } from './service-view.js';
import { planVips, vipNetworkIds } from './service-vips.js';
import type { VipPlan } from './service-vips.js';
import { listAllTasks } from './task-records.js';
import { txnOrUncertain, UncertainCommitError } from '../store/uncertain-commit.js';

const log = createLogger('manager.services');

type Signal = { readonly signal?: AbortSignal };

/** Lost races (a network guard, an auto-picked port) before giving up with CONFLICT. */
const MAX_ATTEMPTS = 10;

/** What `service ls`/`ps` need from the node registry. */
export type NodeDirectory = Pick<NodeRegistry, 'lookup' | 'resolve'>;

/** Kind of the attachment a service registers on each of its networks. */
export const SERVICE_ATTACHMENT_KIND = 'service';

function serviceAttachmentKey(networkId: string, serviceId: string): string {
  return attachmentKey(networkId, { kind: SERVICE_ATTACHMENT_KIND, owner: serviceId });
}

/** A spec checked against the store: networks as IDs, every published port set. */
interface ResolvedSpec {
  readonly spec: ServiceSpec;
  /** Records of the spec's networks, plus ingress when it is used. */
  readonly networks: Map<string, Network>;
  readonly ingress: Network | undefined;
}

/** Why a guarded write failed, from its failure branch. */
type WriteFailure = { readonly kind: 'error'; readonly error: VxmeshError } | { readonly kind: 'retry' };

/**
 * The service operations of the control API: create, update, remove, list, get, list tasks.
 * Writes are single transactions guarded by compares (names, published ports, network
 * removal, the service's version), so any number of instances on any number of managers may
 * run against one store. Tasks are the orchestrator's business; this only reads them.
 */
export class ServiceService {
  readonly #store: KvStore;
  readonly #allocator: AddressAllocator;
  readonly #clock: Clock;
  readonly #nodes: NodeDirectory;

  constructor(store: KvStore, allocator: AddressAllocator, clock: Clock, nodes: NodeDirectory) {
    this.#store = store;
    this.#allocator = allocator;
    this.#clock = clock;
    this.#nodes = nodes;
  }

  /**
   * Creates a service: validates, resolves networks, picks published ports of 0, allocates the
   * VIPs, then writes record, name index, port keys and network attachments in one transaction.
   * @throws InvalidArgumentError naming the flag; NotFoundError for a missing network;
   *   VxmeshError ALREADY_EXISTS (name, or "port 8080/tcp is already published by service web"),
   *   FAILED_PRECONDITION (ingress port without an ingress network, network being removed),
   *   EXHAUSTED (no address for a VIP, no free port to pick).
   */
  async create(input: ServiceSpec | undefined, opts: Signal = {}): Promise<ServiceView> {
    const checked = checkServiceSpec(input);
    const id = newObjectId();
    const nameKey = storeKeys.serviceName(checked.name);
    if ((await this.#store.get(nameKey, opts)).kv) {
      throw new VxmeshError('ALREADY_EXISTS', `service ${checked.name} already exists`);
    }
    const resolved = await this.#resolve(checked, opts);
    let vips: VipPlan | undefined;
    try {
      for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
        const ports = await this.#ports(resolved.spec.ports, [], id, opts);
        const spec: ServiceSpec = { ...resolved.spec, ports };
        vips ??= await planVips(this.#allocator, resolved.networks, vipNetworkIds(spec, resolved.ingress?.id), []);
        const now = BigInt(this.#clock.now());
        const service: Service = Service.fromPartial({
          id,
          spec,
          specVersion: 1n,
          createdAt: now,
          updatedAt: now,
          virtualIps: vips.virtualIps,
        });
        const attach = attachedNetworkIds(spec, resolved.ingress?.id);
        const guard = await this.#guards(attach, opts);
        const portKeys = ports.map(publishedPortKey);
        const res = await txnOrUncertain(
          this.#store,
          {
            compare: [
              { key: nameKey, target: 'version', op: '==', value: 0n },
              ...portKeys.map((key) => ({ key, target: 'version', op: '==', value: 0n }) as const),
              ...guard.compares,
              ...ownerFences(vips.allocated),
            ],
            success: [
              ...guard.ops,
              { type: 'put', key: storeKeys.service(id), value: encodeMessage(Service, service) },
              { type: 'put', key: nameKey, value: id },
              ...portKeys.map((key) => ({ type: 'put', key, value: id }) as const),
              ...attach.map((n) => ({ type: 'put', key: serviceAttachmentKey(n, id), value: id }) as const),
            ],
            failure: [{ type: 'get', key: nameKey }],
          },
          opts,
        );
        if (res.succeeded) {
          log.info({ serviceId: id, name: spec.name, vips: service.virtualIps.map((v) => v.addr) }, 'service created');
          return serviceView({ service, modRevision: res.revision }, []);
        }
        const [name] = res.results;
        if (name?.type === 'get' && name.kv) {
          throw new VxmeshError('ALREADY_EXISTS', `service ${checked.name} already exists`);
        }
        if (!(await fencesHold(this.#store, vips.allocated))) {
          // A sweep may have reclaimed the VIPs: the fenced give-back is a no-op if so; new ones next.
          await releaseAll(this.#allocator, vips.allocated);
          vips = undefined;
          continue;
        }
        const failure = await this.#portFailure(resolved.spec.ports, ports, id, opts);
        if (failure.kind === 'error') {
          throw failure.error;
        }
      }
      throw new VxmeshError('CONFLICT', `service ${checked.name}: the store kept changing while creating it; try again`);
    } catch (err) {
      // A create that may have committed keeps its VIPs: the service may hold them.
      if (vips && !(err instanceof UncertainCommitError)) {
        await releaseAll(this.#allocator, vips.allocated);
      }
      throw err;
    }
  }

  /**
   * Replaces the spec of a service. `version` (0: no check) must be the version the caller read.
   * VIPs of networks that stay are kept, new networks get one, removed ones are given back;
   * `spec_version` goes up when tasks must be replaced (see `changesTasks`), which starts a
   * rolling update (`update_status` "updating").
   * @throws as {@link create}, plus NotFoundError (service), VxmeshError CONFLICT when the
   *   service changed since `version`, InvalidArgumentError for a rename or a mode change.
   */
  async update(ref: string, input: ServiceSpec | undefined, version: bigint, opts: Signal = {}): Promise<ServiceView> {
    const checked = checkServiceSpec(input);
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = await resolveService(this.#store, ref, opts);
      const old = stored.service;
      const oldSpec = old.spec ?? checked;
      if (version !== 0n && version !== stored.modRevision) {
        throw this.#outdated(oldSpec.name, version, stored.modRevision);
      }
      if (checked.name !== oldSpec.name) {
        throw new InvalidArgumentError('name', `a service cannot be renamed (${oldSpec.name} to ${checked.name})`);
      }
      if (checked.mode !== oldSpec.mode) {
        throw new InvalidArgumentError('mode', `service ${oldSpec.name} cannot change mode; remove it and create it again`);
      }
      const resolved = await this.#resolve(checked, opts);
      const ports = await this.#ports(resolved.spec.ports, oldSpec.ports, old.id, opts);
      const spec: ServiceSpec = { ...resolved.spec, ports };
      const networks = new Map(resolved.networks);
      for (const v of old.virtualIps) {
        if (!networks.has(v.networkId)) {
          const n = (await getNetwork(this.#store, v.networkId, opts))?.network;
          if (n) {
            networks.set(n.id, n);
          }
        }
      }
      const vips = await planVips(this.#allocator, networks, vipNetworkIds(spec, resolved.ingress?.id), old.virtualIps);
      let committed = false;
      try {
        const now = BigInt(this.#clock.now());
        const bump = changesTasks(oldSpec, spec);
        const service: Service = {
          ...old,
          spec,
          specVersion: bump ? old.specVersion + 1n : old.specVersion,
          updatedAt: now,
          virtualIps: vips.virtualIps,
          previousSpec: oldSpec,
          updateStatus: bump
            ? { state: 'updating', startedAt: now, completedAt: 0n, message: 'update in progress' }
            : old.updateStatus,
        };
        const oldIngressId = hasIngressPorts(oldSpec)
          ? (resolved.ingress ?? (await readIngressNetwork(this.#store, opts)))?.id
          : undefined;
        const oldAttach = new Set([
          ...attachedNetworkIds(oldSpec, oldIngressId),
          ...old.virtualIps.map((v) => v.networkId),
        ]);
        const newAttach = new Set(attachedNetworkIds(spec, resolved.ingress?.id));
        const addedNetworks = [...newAttach].filter((n) => !oldAttach.has(n));
        const removedNetworks = [...oldAttach].filter((n) => !newAttach.has(n));
        const oldPorts = new Set(oldSpec.ports.map(publishedPortKey));
        const newPorts = new Set(spec.ports.map(publishedPortKey));
        const addedPorts = [...newPorts].filter((k) => !oldPorts.has(k));
        const removedPorts = [...oldPorts].filter((k) => !newPorts.has(k));
        const guard = await this.#guards(addedNetworks, opts);
        const key = storeKeys.service(old.id);
        const res = await txnOrUncertain(
          this.#store,
          {
            compare: [
              { key, target: 'modRevision', op: '==', value: stored.modRevision },
              ...addedPorts.map((k) => ({ key: k, target: 'version', op: '==', value: 0n }) as const),
              ...guard.compares,
              ...ownerFences(vips.allocated),
            ],
            success: [
              ...guard.ops,
              { type: 'put', key, value: encodeMessage(Service, service) },
              ...addedPorts.map((k) => ({ type: 'put', key: k, value: old.id }) as const),
              ...removedPorts.map((k) => ({ type: 'delete', key: k }) as const),
              ...addedNetworks.map((n) => ({ type: 'put', key: serviceAttachmentKey(n, old.id), value: old.id }) as const),
              ...removedNetworks.map((n) => ({ type: 'delete', key: serviceAttachmentKey(n, old.id) }) as const),
            ],
            failure: [{ type: 'get', key }],
          },
          opts,
        );
        if (res.succeeded) {
          committed = true;
          await releaseHeld(this.#allocator, vips.released, res.revision);
          log.info({ serviceId: old.id, name: spec.name, specVersion: service.specVersion }, 'service updated');
          const tasks = (await listAllTasks(this.#store, opts)).map((t) => t.task);
          return serviceView({ service, modRevision: res.revision }, tasks);
        }
        const [current] = res.results;
        if (current?.type === 'get' && current.kv?.modRevision !== stored.modRevision) {
          if (version !== 0n) {
            throw this.#outdated(oldSpec.name, version, current.kv?.modRevision ?? 0n);
          }
          continue;
        }
        if (!(await fencesHold(this.#store, vips.allocated))) {
          continue; // a sweep may have reclaimed the new VIPs: the next attempt allocates anew
        }
        const failure = await this.#portFailure(resolved.spec.ports, ports, old.id, opts);
        if (failure.kind === 'error') {
          throw failure.error;
        }
      } catch (err) {
        // An update that may have committed keeps its new VIPs: the service may hold them.
        if (err instanceof UncertainCommitError) {
          committed = true;
        }
        throw err;
      } finally {
        if (!committed) {
          await releaseAll(this.#allocator, vips.allocated);
        }
      }
    }
    throw new VxmeshError('CONFLICT', `service ${ref}: the store kept changing while updating it; try again`);
  }

  /**
   * Removes a service: record, name index, port keys and network attachments in one
   * transaction; its VIPs are given back at once; the orchestrator then shuts its tasks down and
   * frees their endpoints.
   * @throws NotFoundError; VxmeshError CONFLICT after too many lost races.
   */
  async remove(ref: string, opts: Signal = {}): Promise<void> {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const stored = await resolveService(this.#store, ref, opts);
      const { service } = stored;
      const spec = service.spec;
      const ingress = spec && hasIngressPorts(spec) ? await readIngressNetwork(this.#store, opts) : undefined;
      const attach = new Set([
        ...(spec ? attachedNetworkIds(spec, ingress?.id) : []),
        ...service.virtualIps.map((v) => v.networkId),
      ]);
      const key = storeKeys.service(service.id);
      const res = await this.#store.txn(
        {
          compare: [{ key, target: 'modRevision', op: '==', value: stored.modRevision }],
          success: [
            { type: 'delete', key },
            ...(spec ? [{ type: 'delete' as const, key: storeKeys.serviceName(spec.name) }] : []),
            ...(spec?.ports ?? []).map((p) => ({ type: 'delete', key: publishedPortKey(p) }) as const),
            ...[...attach].map((n) => ({ type: 'delete', key: serviceAttachmentKey(n, service.id) }) as const),
          ],
        },
        opts,
      );
      if (!res.succeeded) {
        continue;
      }
      const held: HeldAddress[] = [];
      for (const v of service.virtualIps) {
        held.push(...heldAddresses((await getNetwork(this.#store, v.networkId, opts))?.network, [v.addr]));
      }
      await releaseHeld(this.#allocator, held, res.revision);
      log.info({ serviceId: service.id, name: spec?.name }, 'service removed');
      return;
    }
    throw new VxmeshError('CONFLICT', `service ${ref} kept changing while being removed; try again`);
  }

  /** Every service with its task counts, sorted by name. */
  async list(opts: Signal = {}): Promise<ServiceView[]> {
    const [services, tasks] = await Promise.all([listServices(this.#store, opts), listAllTasks(this.#store, opts)]);
    const plain = tasks.map((t) => t.task);
    return services.map((s) => serviceView(s, plain));
  }

  /** One service by full ID, name or unique ID prefix, with its task counts. */
  async get(ref: string, opts: Signal = {}): Promise<ServiceView> {
    const stored = await resolveService(this.#store, ref, opts);
    const tasks = (await listAllTasks(this.#store, opts)).map((t) => t.task);
    return serviceView(stored, tasks);
  }

  /**
   * Tasks of a service (name, ID or unique prefix; empty: all, including tasks of removed
   * services not yet cleaned up) on a node (ID, prefix or hostname; empty: all), sorted by
   * service name, slot, then newest first.
   * @throws NotFoundError for an unknown service or node.
   */
  async listTasks(serviceRef: string, nodeRef: string, opts: Signal = {}): Promise<TaskView[]> {
    const service: StoredService | undefined = serviceRef ? await resolveService(this.#store, serviceRef, opts) : undefined;
    const node = nodeRef ? (await this.#nodes.resolve(nodeRef)).node : undefined;
    const tasks = (await listAllTasks(this.#store, opts))
      .map((t) => t.task)
      .filter((t) => (!service || t.serviceId === service.service.id) && (!node || t.nodeId === node.id));
    const hostnames = new Map<string, string>();
    for (const nodeId of new Set(tasks.map((t) => t.nodeId))) {
      if (nodeId !== '') {
        hostnames.set(nodeId, (await this.#nodes.lookup(nodeId))?.hostname ?? '');
      }
    }
    return tasks
      .map((task) => ({ task, nodeHostname: hostnames.get(task.nodeId) ?? '' }))
      .sort(compareTaskViews);
  }

  #outdated(name: string, read: bigint, now: bigint): VxmeshError {
    return new VxmeshError(
      'CONFLICT',
      `service ${name} was updated since it was read (version ${read}, now ${now}); read it again`,
    );
  }

  async #resolve(checked: ServiceSpec, opts: Signal): Promise<ResolvedSpec> {
    const { networks, records } = await resolveServiceNetworks(this.#store, checked.networks, opts);
    let ingress: Network | undefined;
    if (hasIngressPorts(checked)) {
      ingress = await readIngressNetwork(this.#store, opts);
      if (!ingress) {
        throw new VxmeshError(
          'FAILED_PRECONDITION',
          'the cluster has no ingress network: publish with mode=host, or create one with network create --ingress',
        );
      }
      records.set(ingress.id, ingress);
    }
    return { spec: { ...checked, networks }, networks: records, ingress };
  }

  /** Published ports with the 0s filled in, refused if another service holds one. */
  async #ports(ports: readonly PortConfig[], previous: readonly PortConfig[], serviceId: string, opts: Signal): Promise<PortConfig[]> {
    const assigned = await assignPublishedPorts(this.#store, ports, previous, serviceId, opts);
    const conflict = await portConflict(this.#store, assigned.filter((_p, i) => ports[i]?.publishedPort !== 0), serviceId, opts);
    if (conflict) {
      throw conflict;
    }
    return assigned;
  }

  /** After a failed write: a port the user asked for is taken (error), or an auto-picked one or a guard raced (retry). */
  async #portFailure(
    asked: readonly PortConfig[],
    assigned: readonly PortConfig[],
    serviceId: string,
    opts: Signal,
  ): Promise<WriteFailure> {
    const explicit = assigned.filter((_p, i) => asked[i]?.publishedPort !== 0);
    const error = await portConflict(this.#store, explicit, serviceId, opts);
    return error ? { kind: 'error', error } : { kind: 'retry' };
  }

  /** The compares and ops that keep attachments safe against a concurrent `network rm`. */
  async #guards(networkIds: readonly string[], opts: Signal): Promise<{ compares: Compare[]; ops: TxnOp[] }> {
    const compares: Compare[] = [];
    const ops: TxnOp[] = [];
    for (const id of networkIds) {
      const guard = await attachGuard(this.#store, id, this.#clock, opts);
      compares.push(...guard.compares);
      ops.push(...guard.ops);
    }
    return { compares, ops };
  }
}
