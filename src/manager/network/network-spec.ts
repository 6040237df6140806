import { InvalidArgumentError } from '../../common/errors.js';
import type { CreateNetworkRequest } from '../../gen/vxmesh/v1/control.js';
import { pairIpamConfig } from '../ipam/ipam-config.js';
import type { IpamRequest } from '../ipam/ipam-config.js';
import { parseVxlanIdList } from '../ipam/vni-space.js';
import { checkLabels } from './network-labels.js';
import { checkNetworkName } from './network-name.js';
import { checkDriverOptions } from './network-options.js';
import type { DriverOptions } from './network-options.js';

/** The one driver cluster networks have. */
export const OVERLAY_DRIVER = 'overlay';
/** The one IPAM driver. */
export const DEFAULT_IPAM_DRIVER = 'default';

/** A `network create` request after validation: everything but what needs the store. */
export interface NetworkSpec {
  readonly name: string;
  readonly enableIpv6: boolean;
  readonly internal: boolean;
  readonly attachable: boolean;
  readonly ingress: boolean;
  readonly labels: Readonly<Record<string, string>>;
  readonly ipamOptions: Readonly<Record<string, string>>;
  readonly options: DriverOptions;
  readonly ipam: IpamRequest;
  /** VNIs asked for with vxlanid_list, one per IPv4 subnet in order; undefined = allocate. */
  readonly vnis: readonly number[] | undefined;
}

/**
 * Validates everything in a create request that does not depend on the store, so a bad request
 * is refused before any read or write. Each error names the flag and the value: name, driver,
 * IPAM driver, labels, IPAM options, driver options (MTU range, encrypted, vxlanid_list count
 * and range), ingress constraints and every IPAM flag (see pairIpamConfig).
 * @throws InvalidArgumentError
 */
export function checkCreateRequest(req: CreateNetworkRequest): NetworkSpec {
  checkNetworkName(req.name);
  if (req.driver !== '' && req.driver !== OVERLAY_DRIVER) {
    throw new InvalidArgumentError(
      '--driver',
      `${JSON.stringify(req.driver)}: cluster networks use the "${OVERLAY_DRIVER}" driver`,
    );
  }
  if (req.ipamDriver !== '' && req.ipamDriver !== DEFAULT_IPAM_DRIVER) {
    throw new InvalidArgumentError(
      '--ipam-driver',
      `${JSON.stringify(req.ipamDriver)}: only the "${DEFAULT_IPAM_DRIVER}" IPAM driver exists`,
    );
  }
  if (req.ingress && req.attachable) {
    throw new InvalidArgumentError('--attachable', 'an ingress network cannot be attachable');
  }
  if (req.ingress && req.internal) {
    throw new InvalidArgumentError(
      '--internal',
      'an ingress network cannot be internal (the routing mesh needs to reach out)',
    );
  }
  checkLabels(req.labels, '--label');
  checkLabels(req.ipamOptions, '--ipam-opt');
  const options = checkDriverOptions(req.options);
  const ipam = pairIpamConfig({
    subnets: req.subnets,
    gateways: req.gateways,
    ipRanges: req.ipRanges,
    auxAddresses: req.auxAddresses,
    enableIpv6: req.enableIpv6,
  });
  const ipv4Subnets = ipam.autoV4 ? 1 : ipam.explicit.filter((s) => s.cidr.family === 4).length;
  const vnis = options.vxlanIdList === undefined ? undefined : parseVxlanIdList(options.vxlanIdList, ipv4Subnets);
  return {
    name: req.name,
    enableIpv6: req.enableIpv6,
    internal: req.internal,
    attachable: req.attachable,
    ingress: req.ingress,
    labels: { ...req.labels },
    ipamOptions: { ...req.ipamOptions },
    options,
    ipam,
    vnis,
  };
}
