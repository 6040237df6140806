import { ServiceMode } from '../gen/vxmesh/v1/service.js';
import type { ServiceRecord } from './daemon-api.js';
import { sortedEntries } from './go-map.js';
import { humanDuration } from './human-duration.js';
import { DEFAULT_UPDATE_PARALLELISM } from './service-create-spec.js';
import { goDurationString } from './service-duration-text.js';
import { endpointModeText, protocolText, publishModeText } from './service-text.js';

/**
 * `service inspect --pretty` for one service, byte for byte what docker's template
 * (cli/command/service/formatter.go) writes for the fields vxmesh has, tabs included: a leading
 * empty line, the sections in docker's order, and an empty line after each service. docker's
 * `ContainerSpec: Image/Args` is `ContainerSpec: Command` (no image), and the parts vxmesh has no
 * counterpart for (update failure action, order and ratio, rollback, resources, mounts, secrets,
 * log driver, healthcheck) are left out.
 * @param networkNames network names by ID, for `Networks:`; an ID without a name is shown as is.
 * @param nowMs the present, for the update's "Started" and "Completed" ages.
 */
export function formatServicePretty(
  record: ServiceRecord,
  networkNames: ReadonlyMap<string, string>,
  nowMs: number,
): string {
  const { service } = record;
  const { spec } = service;
  let text = `\nID:\t\t${service.id}\nName:\t\t${spec.name}`;
  const labels = sortedEntries(spec.labels);
  if (labels.length > 0) {
    text += '\nLabels:';
    for (const [key, value] of labels) {
      text += `\n ${key}${value === '' ? '' : `=${value}`}`;
    }
  }
  text += '\nService Mode:';
  text += spec.mode === ServiceMode.SERVICE_MODE_GLOBAL ? '\tGlobal' : `\tReplicated\n Replicas:\t${spec.replicas}`;
  const status = service.updateStatus;
  if (status !== undefined && status.state !== '') {
    text += `\nUpdateStatus:\n State:\t\t${status.state}`;
    if (status.startedAt !== 0n) {
      text += `\n Started:\t${humanDuration(nowMs - Number(status.startedAt))} ago`;
    }
    if (status.state === 'completed' && status.completedAt !== 0n) {
      text += `\n Completed:\t${humanDuration(nowMs - Number(status.completedAt))} ago`;
    }
    text += `\n Message:\t${status.message}`;
  }
  text += '\nPlacement:';
  if (spec.constraints.length > 0) {
    // Go prints a []string as "[a b]".
    text += `\n Constraints:\t[${spec.constraints.join(' ')}]`;
  }
  text += `\nUpdateConfig:\n Parallelism:\t${spec.updateParallelism || DEFAULT_UPDATE_PARALLELISM}`;
  if (spec.updateDelayMs > 0n) {
    text += `\n Delay:\t\t${goDurationString(spec.updateDelayMs)}`;
  }
  text += `\nContainerSpec:\n Command:\t${spec.command.map((arg) => `${arg} `).join('')}`;
  if (spec.networks.length > 0) {
    text += `\nNetworks:${spec.networks.map((n) => ` ${networkNames.get(n.network) ?? n.network}`).join('')} `;
  }
  text += `\nEndpoint Mode:\t${endpointModeText(spec.endpointMode)}`;
  if (spec.ports.length > 0) {
    text += '\nPorts:';
    for (const port of spec.ports) {
      text +=
        `\n PublishedPort = ${port.publishedPort}\n  Protocol = ${protocolText(port.protocol)}` +
        `\n  TargetPort = ${port.targetPort}\n  PublishMode = ${publishModeText(port.publishMode)}`;
    }
    text += ' ';
  }
  return `${text}\n\n`;
}
