import { isAbsolute } from 'node:path';
import { InvalidArgumentError } from '../../common/errors.js';
import type {
  AttachNamespaceRequest,
  AttachNamespaceResponse,
  CheckNamespaceRequest,
  CheckNamespaceResponse,
  DetachNamespaceRequest,
  DetachNamespaceResponse,
  GcNamespacesRequest,
  GcNamespacesResponse,
  ListNamespacesResponse,
} from '../../gen/vxmesh/v1/control.js';
import { EMBEDDED_DNS_ADDRESS } from '../dns/index.js';
import { cniAttachmentId } from './attachment-id.js';
import type { ExternalEndpoints } from './external-endpoints.js';

/** The CNI spec's rule for container IDs. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

function requireContainerId(containerId: string): void {
  if (!CONTAINER_ID.test(containerId)) {
    throw new InvalidArgumentError('container ID', `${JSON.stringify(containerId)} must match ${CONTAINER_ID.source}`);
  }
}

function requireIfName(ifName: string): void {
  if (ifName === '') {
    throw new InvalidArgumentError('interface name', 'is required');
  }
}

/**
 * The LocalControl namespace RPCs (AttachNamespace, DetachNamespace, CheckNamespace,
 * GcNamespaces, ListNamespaces) over {@link ExternalEndpoints}: request checks, the attachment
 * ID of a (container ID, interface) pair, and the DNS settings of the answer.
 */
export class NamespaceControl {
  readonly #external: ExternalEndpoints;

  constructor(external: ExternalEndpoints) {
    this.#external = external;
  }

  async attach(req: AttachNamespaceRequest): Promise<AttachNamespaceResponse> {
    requireContainerId(req.containerId);
    requireIfName(req.ifName);
    if (!isAbsolute(req.netnsPath)) {
      throw new InvalidArgumentError('netns', `${JSON.stringify(req.netnsPath)} must be an absolute path`);
    }
    if (req.network === '') {
      throw new InvalidArgumentError('network', 'is required');
    }
    const attachment = await this.#external.attach({
      id: cniAttachmentId(req.containerId, req.ifName),
      containerId: req.containerId,
      origin: req.origin || 'cni',
      network: req.network,
      ownerName: req.name || req.containerId.slice(0, 12),
      ipv4Address: req.ipv4Address,
      ipv6Address: req.ipv6Address,
      aliases: req.aliases,
      netnsPath: req.netnsPath,
      ifName: req.ifName,
      dns: req.dns,
    });
    return {
      attachment,
      // ndots:0 as for vxmesh containers: a single label is asked as is first and reaches the cluster.
      dnsServers: attachment.dns ? [EMBEDDED_DNS_ADDRESS] : [],
      dnsSearch: [],
      dnsOptions: attachment.dns ? ['ndots:0'] : [],
    };
  }

  async detach(req: DetachNamespaceRequest): Promise<DetachNamespaceResponse> {
    requireContainerId(req.containerId);
    requireIfName(req.ifName);
    return { detached: await this.#external.detach(cniAttachmentId(req.containerId, req.ifName)) };
  }

  async check(req: CheckNamespaceRequest): Promise<CheckNamespaceResponse> {
    requireContainerId(req.containerId);
    requireIfName(req.ifName);
    const attachment = await this.#external.check(cniAttachmentId(req.containerId, req.ifName), {
      netnsPath: req.netnsPath,
      network: req.network,
      addresses: req.addresses,
      mac: req.macAddress,
    });
    return { attachment };
  }

  async gc(req: GcNamespacesRequest): Promise<GcNamespacesResponse> {
    if (req.origin === '') {
      throw new InvalidArgumentError('origin', 'is required');
    }
    return { detachedIds: await this.#external.gc(req.origin, req.valid) };
  }

  list(): ListNamespacesResponse {
    return { attachments: this.#external.list() };
  }
}
