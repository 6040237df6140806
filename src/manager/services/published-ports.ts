import { VxmeshError } from '../../common/errors.js';
import type { KvStore } from '../../kvstore/index.js';
import type { PortConfig } from '../../gen/vxmesh/v1/service.js';
import { rangeAll } from '../ipam/range-all.js';
import { storeKeys } from '../store/store-keys.js';
import { getService } from './service-records.js';
import { DYNAMIC_PORT_MAX, DYNAMIC_PORT_MIN, portLabel } from './service-spec-validation.js';

type Signal = { readonly signal?: AbortSignal };

/** The store key that makes a published port+protocol belong to one service. */
export function publishedPortKey(port: Pick<PortConfig, 'protocol' | 'publishedPort'>): string {
  return storeKeys.publishedPort(port.protocol, port.publishedPort);
}

/** `v1/published-ports/<protocol>/`: the key of port 0 without its last segment (store-keys has no prefix helper). */
function publishedPortsPrefix(protocol: string): string {
  const key = storeKeys.publishedPort(protocol, 0);
  return key.slice(0, key.length - 1);
}

function sameBinding(a: PortConfig, b: PortConfig): boolean {
  return a.protocol === b.protocol && a.targetPort === b.targetPort && a.publishMode === b.publishMode;
}

/**
 * Fills in published ports of 0: the port the service already had for the same target,
 * protocol and mode (an update keeps it), else the lowest free port of docker's dynamic range
 * 30000-32767. A port held by `serviceId` itself counts as free for it. The choice is only a
 * proposal: the create/update transaction compares the keys, and a lost race retries.
 * @throws VxmeshError EXHAUSTED when the range is full.
 */
export async function assignPublishedPorts(
  store: KvStore,
  ports: readonly PortConfig[],
  previous: readonly PortConfig[],
  serviceId: string,
  opts: Signal = {},
): Promise<PortConfig[]> {
  if (ports.every((p) => p.publishedPort !== 0)) {
    return [...ports];
  }
  const taken = new Set(ports.filter((p) => p.publishedPort !== 0).map(portLabel));
  const used = new Map<string, Set<number>>();
  const usedOf = async (protocol: string): Promise<Set<number>> => {
    let set = used.get(protocol);
    if (!set) {
      const prefix = publishedPortsPrefix(protocol);
      const { kvs } = await rangeAll(store, prefix, opts);
      set = new Set(
        kvs
          .filter((kv) => Buffer.from(kv.value).toString('utf8') !== serviceId)
          .map((kv) => Number(kv.key.slice(prefix.length))),
      );
      used.set(protocol, set);
    }
    return set;
  };
  const out: PortConfig[] = [];
  for (const port of ports) {
    if (port.publishedPort !== 0) {
      out.push(port);
      continue;
    }
    const kept = previous.find((p) => sameBinding(p, port) && !taken.has(portLabel(p)));
    if (kept) {
      taken.add(portLabel(kept));
      out.push({ ...port, publishedPort: kept.publishedPort });
      continue;
    }
    const busy = await usedOf(port.protocol);
    let chosen = 0;
    for (let candidate = DYNAMIC_PORT_MIN; candidate <= DYNAMIC_PORT_MAX; candidate++) {
      if (!busy.has(candidate) && !taken.has(`${candidate}/${port.protocol}`)) {
        chosen = candidate;
        break;
      }
    }
    if (chosen === 0) {
      throw new VxmeshError(
        'EXHAUSTED',
        `no free ${port.protocol} port left in ${DYNAMIC_PORT_MIN}-${DYNAMIC_PORT_MAX} to publish target port ${port.targetPort}`,
      );
    }
    taken.add(`${chosen}/${port.protocol}`);
    out.push({ ...port, publishedPort: chosen });
  }
  return out;
}

/**
 * The first of `ports` another service publishes, as the error the API returns; undefined when
 * every port is free or already this service's.
 */
export async function portConflict(
  store: KvStore,
  ports: readonly PortConfig[],
  serviceId: string,
  opts: Signal = {},
): Promise<VxmeshError | undefined> {
  if (ports.length === 0) {
    return undefined;
  }
  const res = await store.txn(
    { compare: [], success: ports.map((p) => ({ type: 'get', key: publishedPortKey(p) }) as const) },
    opts,
  );
  for (const [i, r] of res.results.entries()) {
    const port = ports[i];
    if (!port || r.type !== 'get' || !r.kv) {
      continue;
    }
    const owner = Buffer.from(r.kv.value).toString('utf8');
    if (owner === serviceId) {
      continue;
    }
    const name = (await getService(store, owner, opts))?.service.spec?.name ?? owner;
    return new VxmeshError('ALREADY_EXISTS', `port ${portLabel(port)} is already published by service ${name}`);
  }
  return undefined;
}
