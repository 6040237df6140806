import type { CreateNetworkRequest } from '../../src/gen/vxmesh/v1/control.js';

/** A create request with docker's defaults; override what the test is about. */
export function createRequest(name: string, extra: Partial<CreateNetworkRequest> = {}): CreateNetworkRequest {
  return {
    name,
    driver: '',
    subnets: [],
    gateways: [],
    ipRanges: [],
    auxAddresses: {},
    enableIpv6: false,
    internal: false,
    attachable: false,
    ingress: false,
    labels: {},
    options: {},
    ipamDriver: '',
    ipamOptions: {},
    ...extra,
  };
}
