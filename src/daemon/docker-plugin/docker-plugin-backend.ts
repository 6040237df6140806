import type { CreateNetworkRequest } from '../../gen/vxmesh/v1/control.js';
import type { Network } from '../../gen/vxmesh/v1/network.js';
import type { ExternalEndpoints } from '../../worker/external/index.js';

/**
 * What the Docker plugin needs from vxmeshd. Network methods are ClusterControl's (they fail
 * with FAILED_PRECONDITION on a node that is not a manager); `external` fails the same way on a
 * node that is not a member.
 */
export interface DockerPluginBackend {
  /** By name, ID or unique ID prefix. @throws NotFound. */
  getNetwork(ref: string): Promise<Network>;
  /** @throws the managers' validation errors; ALREADY_EXISTS for a taken name. */
  createNetwork(req: CreateNetworkRequest): Promise<Network>;
  /** Refused while in use. */
  removeNetwork(ref: string): Promise<void>;
  /** This node's external endpoints. */
  external(): ExternalEndpoints;
}

/** A CreateNetworkRequest with every field at its default. */
export function createNetworkRequest(fields: Partial<CreateNetworkRequest> & { name: string }): CreateNetworkRequest {
  return {
    driver: 'overlay',
    subnets: [],
    gateways: [],
    ipRanges: [],
    auxAddresses: {},
    enableIpv6: false,
    internal: false,
    attachable: true,
    ingress: false,
    labels: {},
    options: {},
    ipamDriver: '',
    ipamOptions: {},
    ...fields,
  };
}
