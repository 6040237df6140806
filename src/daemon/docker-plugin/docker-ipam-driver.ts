import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import { InvalidArgumentError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import type {
  AddressSpaces,
  IpamCapabilities,
  RequestAddressResponse,
  RequestPoolResponse,
} from './docker-plugin-api.js';
import {
  GATEWAY_ADDRESS_TYPE,
  GLOBAL_ADDRESS_SPACE,
  LOCAL_ADDRESS_SPACE,
  REQUEST_ADDRESS_TYPE,
  VXMESH_NETWORK_OPTION,
} from './docker-plugin-api.js';
import type { DockerPluginBackend } from './docker-plugin-backend.js';
import { createNetworkRequest } from './docker-plugin-backend.js';
import type { Body } from './docker-request.js';
import { optionalObject, optionalString, requiredString, stringOptions } from './docker-request.js';

const log = createLogger('daemon.docker-plugin');

/** Origin of an address this driver reserved (an external endpoint allocated, not plugged). */
export const IPAM_ORIGIN_PREFIX = 'docker-ipam:';
/** Label on the networks this driver creates, so ReleasePool knows what is its own. */
export const CREATED_BY_LABEL = 'com.vxmesh.created-by';

/**
 * A pool is one subnet of a vxmesh network. Its ID carries what later calls need without asking
 * the managers (workers cannot): network ID, subnet, gateway, and whether this driver created
 * the network (then ReleasePool removes it). Docker treats it as opaque.
 */
export interface PoolId {
  readonly networkId: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly own: boolean;
}

export function formatPoolId(p: PoolId): string {
  return [p.networkId, p.subnet, p.gateway, p.own ? 'own' : 'ref'].join('|');
}

export function parsePoolId(text: string): PoolId {
  const [networkId = '', subnet = '', gateway = '', own = '', ...rest] = text.split('|');
  if (networkId === '' || !subnet.includes('/') || rest.length > 0 || (own !== 'own' && own !== 'ref')) {
    throw new InvalidArgumentError('PoolID', `${JSON.stringify(text)} is not a pool of the vxmesh IPAM driver`);
  }
  return { networkId, subnet, gateway, own: own === 'own' };
}

function prefixLength(cidr: string): string {
  return cidr.split('/')[1] ?? '';
}

function sameIp(a: string, b: string): boolean {
  try {
    return ipaddr.process(a).toString() === ipaddr.process(b).toString();
  } catch {
    return false;
  }
}

/**
 * `IpamDriver.*`: pools are subnets of vxmesh networks, addresses are external endpoints the
 * managers allocate (reserved here, plugged at the network driver's Join).
 *
 * - RequestPool with `--ipam-opt vxmesh.network=NAME` uses that (attachable) network's subnet;
 *   without it, a new attachable vxmesh network is created (with `--subnet`/`--ip-range` if
 *   given), which ReleasePool removes. Creating needs a manager, as `docker network create`
 *   does in swarm mode. IPv6 pools only come from an existing dual-stack network.
 * - RequestAddress: the gateway is the network's; any other address is an endpoint allocated by
 *   the managers (a static one with `--ip`), recorded on this node until ReleaseAddress.
 */
export class DockerIpamDriver {
  readonly #backend: DockerPluginBackend;

  constructor(backend: DockerPluginBackend) {
    this.#backend = backend;
  }

  getCapabilities(): IpamCapabilities {
    return { RequiresMACAddress: false, RequiresRequestReplay: false };
  }

  getDefaultAddressSpaces(): AddressSpaces {
    return { LocalDefaultAddressSpace: LOCAL_ADDRESS_SPACE, GlobalDefaultAddressSpace: GLOBAL_ADDRESS_SPACE };
  }

  async requestPool(body: Body): Promise<RequestPoolResponse> {
    const pool = optionalString(body, 'Pool');
    const subPool = optionalString(body, 'SubPool');
    const v6 = body['V6'] === true;
    const options = stringOptions(optionalObject(body, 'Options'));
    if (pool && !isCidr(pool)) {
      throw new InvalidArgumentError('Pool', `${JSON.stringify(pool)} is not a CIDR`);
    }
    if (subPool && !isCidr(subPool)) {
      throw new InvalidArgumentError('SubPool', `${JSON.stringify(subPool)} is not a CIDR`);
    }
    const existing = options[VXMESH_NETWORK_OPTION];
    let network: Network;
    let own = false;
    if (existing) {
      network = await this.#backend.getNetwork(existing);
      if (!network.attachable) {
        throw new VxmeshError(
          'PERMISSION_DENIED',
          `vxmesh network ${network.name} is not attachable (create it with --attachable)`,
        );
      }
    } else if (v6) {
      throw new InvalidArgumentError(
        'V6',
        `IPv6 pools come from an existing dual-stack vxmesh network: pass --ipam-opt ${VXMESH_NETWORK_OPTION}=NAME`,
      );
    } else {
      network = await this.#backend.createNetwork(
        createNetworkRequest({
          name: `docker-${randomBytes(6).toString('hex')}`,
          subnets: pool ? [pool] : [],
          ipRanges: subPool ? [subPool] : [],
          labels: { [CREATED_BY_LABEL]: 'docker-ipam' },
        }),
      );
      own = true;
      log.info(
        { network: network.name, subnet: network.subnets[0]?.subnet },
        'created a vxmesh network for a Docker pool',
      );
    }
    const subnet = network.subnets.find((s) => s.subnet.includes(':') === v6 && (!pool || s.subnet === pool));
    if (!subnet) {
      throw new InvalidArgumentError(
        'Pool',
        `vxmesh network ${network.name} has no ${v6 ? 'IPv6' : 'IPv4'} subnet${pool ? ` ${pool}` : ''} (it has ${network.subnets.map((s) => s.subnet).join(', ') || 'none'})`,
      );
    }
    return {
      PoolID: formatPoolId({ networkId: network.id, subnet: subnet.subnet, gateway: subnet.gateway, own }),
      Pool: subnet.subnet,
      // Docker then takes this gateway instead of asking for one.
      Data: subnet.gateway ? { 'com.docker.network.gateway': `${subnet.gateway}/${prefixLength(subnet.subnet)}` } : {},
    };
  }

  async releasePool(body: Body): Promise<Record<string, never>> {
    const pool = parsePoolId(requiredString(body, 'PoolID'));
    if (pool.own) {
      await this.#backend.removeNetwork(pool.networkId).catch((err: unknown) => {
        if (!(err instanceof VxmeshError && err.code === 'NOT_FOUND')) {
          throw err;
        }
      });
    }
    return {};
  }

  async requestAddress(body: Body): Promise<RequestAddressResponse> {
    const poolId = requiredString(body, 'PoolID');
    const pool = parsePoolId(poolId);
    const address = optionalString(body, 'Address');
    if (address && isIP(address) === 0) {
      throw new InvalidArgumentError('Address', `${JSON.stringify(address)} is not an IP address`);
    }
    const options = stringOptions(optionalObject(body, 'Options'));
    const len = prefixLength(pool.subnet);
    if (options[REQUEST_ADDRESS_TYPE] === GATEWAY_ADDRESS_TYPE) {
      if (address && !sameIp(address, pool.gateway)) {
        throw new InvalidArgumentError(
          'Address',
          `the gateway of this vxmesh network is ${pool.gateway}, not ${address}`,
        );
      }
      return { Address: `${pool.gateway}/${len}`, Data: {} };
    }
    const v6 = pool.subnet.includes(':');
    const id = `dipam-${randomBytes(12).toString('hex')}`;
    const record = await this.#backend.external().allocate({
      id,
      containerId: '',
      origin: `${IPAM_ORIGIN_PREFIX}${poolId}`,
      network: pool.networkId,
      ownerName: `docker-${id.slice(6, 18)}`,
      ...(v6 ? { ipv6Address: address } : { ipv4Address: address }),
    });
    const allocated = v6 ? record.ipv6Address : record.ipv4Address;
    if (!allocated) {
      await this.#backend.external().release(id);
      throw new VxmeshError(
        'EXHAUSTED',
        `vxmesh network ${record.networkName} gave no ${v6 ? 'IPv6' : 'IPv4'} address`,
      );
    }
    return { Address: allocated, Data: {} };
  }

  async releaseAddress(body: Body): Promise<Record<string, never>> {
    const poolId = requiredString(body, 'PoolID');
    const pool = parsePoolId(poolId);
    const address = requiredString(body, 'Address');
    if (sameIp(address, pool.gateway)) {
      return {};
    }
    const external = this.#backend.external();
    const origin = `${IPAM_ORIGIN_PREFIX}${poolId}`;
    const ip = address.split('/')[0] ?? '';
    for (const r of external.list()) {
      const held = (pool.subnet.includes(':') ? r.ipv6Address : r.ipv4Address).split('/')[0] ?? '';
      if (r.origin === origin && sameIp(held, ip)) {
        await external.release(r.id);
      }
    }
    return {};
  }
}

function isCidr(text: string): boolean {
  try {
    ipaddr.parseCIDR(text);
    return true;
  } catch {
    return false;
  }
}
