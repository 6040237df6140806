import { isIP } from 'node:net';
import { InvalidArgumentError, NotFoundError, VxmeshError } from '../../common/errors.js';
import { createLogger } from '../../common/logger.js';
import type { NamespaceAttachment } from '../../gen/vxmesh/v1/control.js';
import { dockerAttachmentId } from '../../worker/external/index.js';
import type { JoinResponse, NetworkCapabilities } from './docker-plugin-api.js';
import {
  GENERIC_OPTIONS,
  GLOBAL_ADDRESS_SPACE,
  LOCAL_ADDRESS_SPACE,
  VXMESH_NETWORK_OPTION,
} from './docker-plugin-api.js';
import type { DockerPluginBackend } from './docker-plugin-backend.js';
import { createNetworkRequest } from './docker-plugin-backend.js';
import type { DockerPluginState } from './docker-plugin-state.js';
import { IPAM_ORIGIN_PREFIX } from './docker-ipam-driver.js';
import type { Body } from './docker-request.js';
import { optionalObject, optionalObjectList, optionalString, requiredString, stringOptions } from './docker-request.js';

const log = createLogger('daemon.docker-plugin');

/** Origin of an endpoint this driver allocated itself (Docker's own IPAM gave the address). */
export const DOCKER_ORIGIN = 'docker';
/** Interfaces vxmesh puts into Docker sandboxes: vx0, vx1, … (Docker numbers its own eth0, eth1, …). */
const IF_PREFIX = 'vx';
const MAX_INTERFACES = 100;

function isDockerOrigin(r: NamespaceAttachment): boolean {
  return r.origin === DOCKER_ORIGIN || r.origin.startsWith(IPAM_ORIGIN_PREFIX);
}

function ipOf(cidr: string): string {
  return cidr.split('/')[0] ?? '';
}

/**
 * `NetworkDriver.*`, global scope. A Docker network maps to a vxmesh network, a Docker endpoint
 * to an external endpoint:
 *
 *     CreateEndpoint: take the address the vxmesh IPAM reserved (RequestAddress), or allocate
 *                     one with Docker's own IPAM's address on the mapped network
 *     Join:           plug it into the sandbox (SandboxKey) as vx<N>: vxmesh creates the
 *                     interface itself, so Docker has nothing to move (no InterfaceName), and
 *                     gives the container docker_gwbridge for egress (no Gateway)
 *     Leave:          unplug; DeleteEndpoint: give back what CreateEndpoint allocated
 *
 * Network mapping (CreateNetwork): `-o vxmesh.network=NAME` names an existing network; pools of
 * the vxmesh IPAM need none (their addresses carry the network); any other IPAM gets a vxmesh
 * network `docker-<network ID[:12]>` with its pools, created on a manager.
 */
export class DockerNetworkDriver {
  readonly #backend: DockerPluginBackend;
  readonly #state: DockerPluginState;

  constructor(backend: DockerPluginBackend, state: DockerPluginState) {
    this.#backend = backend;
    this.#state = state;
  }

  getCapabilities(): NetworkCapabilities {
    return { Scope: 'global', ConnectivityScope: 'global' };
  }

  async createNetwork(body: Body): Promise<Record<string, never>> {
    const networkId = requiredString(body, 'NetworkID');
    const options = optionalObject(body, 'Options');
    const generic = stringOptions(optionalObject(options, GENERIC_OPTIONS));
    const ipv4 = optionalObjectList(body, 'IPv4Data');
    optionalObjectList(body, 'IPv6Data');
    const named = generic[VXMESH_NETWORK_OPTION];
    if (named) {
      await this.#state.setNetwork(networkId, { network: named, created: false });
      return {};
    }
    const spaces = ipv4.map((d) => optionalString(d, 'AddressSpace'));
    if (ipv4.length > 0 && spaces.every((s) => s === GLOBAL_ADDRESS_SPACE || s === LOCAL_ADDRESS_SPACE)) {
      await this.#state.setNetwork(networkId, { network: '', created: false });
      return {};
    }
    // Another IPAM chose the pools: a vxmesh network with the same subnets, made on a manager
    // (the first node Docker creates the network on); other nodes find it by name.
    const name = `docker-${networkId.slice(0, 12)}`;
    const subnets = ipv4.map((d) => requiredString(d, 'Pool'));
    const gateways = ipv4.map((d) => optionalString(d, 'Gateway').split('/')[0] ?? '').filter((g) => g !== '');
    let created = false;
    try {
      await this.#backend.createNetwork(
        createNetworkRequest({ name, subnets, gateways, labels: { 'com.docker.network.id': networkId } }),
      );
      created = true;
      log.info({ network: name, subnets }, 'created a vxmesh network for a Docker network');
    } catch (err) {
      // Already made by another node, or this node is a worker: endpoints attach by name.
      if (!(err instanceof VxmeshError && (err.code === 'ALREADY_EXISTS' || err.code === 'FAILED_PRECONDITION'))) {
        throw err;
      }
    }
    await this.#state.setNetwork(networkId, { network: name, created });
    return {};
  }

  async deleteNetwork(body: Body): Promise<Record<string, never>> {
    const networkId = requiredString(body, 'NetworkID');
    const entry = await this.#state.network(networkId);
    if (entry?.created) {
      await this.#backend.removeNetwork(entry.network).catch((err: unknown) => {
        if (!(err instanceof VxmeshError && (err.code === 'NOT_FOUND' || err.code === 'FAILED_PRECONDITION'))) {
          throw err;
        }
      });
    }
    await this.#state.deleteNetwork(networkId);
    return {};
  }

  /** The attachment of a Docker endpoint, if any. */
  #find(endpointId: string): NamespaceAttachment | undefined {
    return this.#backend
      .external()
      .list()
      .find((r) => r.containerId === endpointId && isDockerOrigin(r));
  }

  #require(endpointId: string): NamespaceAttachment {
    const found = this.#find(endpointId);
    if (!found) {
      throw new NotFoundError('endpoint', endpointId);
    }
    return found;
  }

  async createEndpoint(body: Body): Promise<{ Interface?: { MacAddress: string } }> {
    const networkId = requiredString(body, 'NetworkID');
    const endpointId = requiredString(body, 'EndpointID');
    const iface = optionalObject(body, 'Interface');
    const address = optionalString(iface, 'Address');
    const addressV6 = optionalString(iface, 'AddressIPv6');
    const mac = optionalString(iface, 'MacAddress').toLowerCase();
    const entry = await this.#state.network(networkId);
    if (!entry) {
      throw new NotFoundError('network', networkId);
    }
    if (!address || isIP(ipOf(address)) !== 4) {
      throw new InvalidArgumentError(
        'Interface.Address',
        `an IPv4 address with prefix length is required, got ${JSON.stringify(address)}`,
      );
    }
    const external = this.#backend.external();
    let record = this.#find(endpointId);
    if (!record) {
      const reserved = external
        .list()
        .find(
          (r) =>
            r.origin.startsWith(IPAM_ORIGIN_PREFIX) && r.containerId === '' && ipOf(r.ipv4Address) === ipOf(address),
        );
      if (reserved) {
        record = await external.rename(reserved.id, endpointId);
      } else if (entry.network) {
        record = await external.allocate({
          id: dockerAttachmentId(endpointId),
          containerId: endpointId,
          origin: DOCKER_ORIGIN,
          network: entry.network,
          ownerName: `docker-${endpointId.slice(0, 12)}`,
          ipv4Address: ipOf(address),
          ipv6Address: ipOf(addressV6),
        });
      } else {
        throw new InvalidArgumentError(
          'Interface.Address',
          `${address} was not reserved by the vxmesh IPAM driver on this node (use --ipam-driver vxmesh, or -o ${VXMESH_NETWORK_OPTION}=NAME)`,
        );
      }
    }
    if (mac && mac !== record.macAddress.toLowerCase()) {
      throw new InvalidArgumentError(
        'Interface.MacAddress',
        `vxmesh derives MAC addresses from IPv4 addresses: ${address} has ${record.macAddress}`,
      );
    }
    // The driver answers with a MAC only when Docker gave none.
    return mac ? {} : { Interface: { MacAddress: record.macAddress } };
  }

  async deleteEndpoint(body: Body): Promise<Record<string, never>> {
    requiredString(body, 'NetworkID');
    const endpointId = requiredString(body, 'EndpointID');
    const record = this.#find(endpointId);
    if (!record) {
      return {};
    }
    const external = this.#backend.external();
    if (record.origin === DOCKER_ORIGIN) {
      await external.release(record.id);
    } else {
      // The vxmesh IPAM's reservation: ReleaseAddress gives it back.
      await external.unplug(record.id);
      await external.rename(record.id, '');
    }
    return {};
  }

  endpointOperInfo(body: Body): { Value: Record<string, string> } {
    requiredString(body, 'NetworkID');
    const r = this.#require(requiredString(body, 'EndpointID'));
    return {
      Value: {
        'vxmesh.network': r.networkName,
        'vxmesh.network_id': r.networkId,
        'vxmesh.endpoint_id': r.endpointId,
        'vxmesh.interface': r.ifName,
        'vxmesh.ipv4_address': r.ipv4Address,
        'vxmesh.mac_address': r.macAddress,
      },
    };
  }

  async join(body: Body): Promise<JoinResponse> {
    requiredString(body, 'NetworkID');
    const endpointId = requiredString(body, 'EndpointID');
    const sandbox = requiredString(body, 'SandboxKey');
    if (!sandbox.startsWith('/')) {
      throw new InvalidArgumentError('SandboxKey', `${JSON.stringify(sandbox)} must be an absolute path`);
    }
    const record = this.#require(endpointId);
    const external = this.#backend.external();
    let ifName = record.ifName;
    if (!ifName) {
      const used = new Set(
        external
          .list()
          .filter((r) => r.netnsPath === sandbox)
          .map((r) => r.ifName),
      );
      let n = 0;
      while (used.has(`${IF_PREFIX}${n}`) && n < MAX_INTERFACES) {
        n++;
      }
      ifName = `${IF_PREFIX}${n}`;
    }
    await external.plug(record.id, { netnsPath: sandbox, ifName, dns: false });
    return { DisableGatewayService: record.internal };
  }

  async leave(body: Body): Promise<Record<string, never>> {
    requiredString(body, 'NetworkID');
    const record = this.#find(requiredString(body, 'EndpointID'));
    if (record) {
      await this.#backend.external().unplug(record.id);
    }
    return {};
  }
}
