import { InvalidArgumentError } from '../common/errors.js';
import { EndpointMode, PublishMode } from '../gen/vxmesh/v1/service.js';
import type { PortConfig, ServiceSpec } from '../gen/vxmesh/v1/service.js';
import { protocolText } from './service-text.js';

// Checks across flags that commander cannot express, made on the spec the CLI is about to send
// (after `service update` has edited it), so create and update refuse the same things with the
// same words. The managers check everything again; these only save a round trip and name the flag.

/** "8080/tcp": how a published port is named in messages. */
export function publishedPortName(port: PortConfig): string {
  return `${port.publishedPort}/${protocolText(port.protocol)}`;
}

/**
 * Refuses what docker's daemon refuses in a spec the CLI can see is wrong: dnsrr with ports
 * published in ingress mode (the routing mesh needs a VIP), and one published port used twice.
 * @param flags the flag names to blame, as the command calls them.
 * @throws InvalidArgumentError naming the flag.
 */
export function checkServiceSpec(
  spec: ServiceSpec,
  flags: { readonly endpointMode: string; readonly publish: string },
): void {
  if (
    spec.endpointMode === EndpointMode.ENDPOINT_MODE_DNSRR &&
    spec.ports.some((p) => p.publishMode !== PublishMode.PUBLISH_MODE_HOST)
  ) {
    throw new InvalidArgumentError(
      flags.endpointMode,
      'dnsrr cannot be used with ports published in ingress mode (publish with mode=host, or use vip)',
    );
  }
  const seen = new Set<string>();
  for (const port of spec.ports) {
    if (port.publishedPort === 0) {
      continue;
    }
    const name = publishedPortName(port);
    if (seen.has(name)) {
      throw new InvalidArgumentError(flags.publish, `published port ${name} is given more than once`);
    }
    seen.add(name);
  }
}
