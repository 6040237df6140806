import type { NodeRecord } from './daemon-api.js';
import { hostPart } from '../common/net/host-part.js';
import { availabilityText, capitalize, reachabilityText, roleText, statusText } from './node-text.js';
import { prettyTimeFromMillis } from './time-text.js';

/** Column at which docker's pretty template lines its values up. */
const VALUE_COLUMN = 24;

function line(label: string, value: string): string {
  return `${label.padEnd(VALUE_COLUMN - 1)} ${value}\n`;
}

/**
 * `node inspect --pretty` for one node, laid out like docker's template (cli/command/node/
 * formatter.go). Docker's platform, resources and engine sections have no vxmesh counterpart and
 * are left out; vxmesh adds the data path address and certificate expiry when known.
 */
export function formatNodePretty(view: NodeRecord): string {
  const { node } = view;
  let text = line('ID:', node.id);
  text += line('Hostname:', node.hostname);
  text += line('Joined at:', prettyTimeFromMillis(node.createdAt));
  text += 'Status:\n';
  text += line(' State:', capitalize(statusText(node.status)));
  text += line(' Availability:', capitalize(availabilityText(node.availability)));
  const addr = hostPart(node.advertiseAddr);
  if (addr !== '') {
    text += line(' Address:', addr);
  }
  if (node.dataPathAddr !== '') {
    text += line(' Data Path Address:', node.dataPathAddr);
  }
  if (roleText(node.role) === 'manager') {
    text += 'Manager Status:\n';
    text += line(' Address:', node.advertiseAddr);
    text += line(' Raft Status:', capitalize(reachabilityText(view.reachability)));
    text += line(' Leader:', view.leader ? 'Yes' : 'No');
  }
  if (view.certNotAfter !== '') {
    text += 'TLS Info:\n';
    text += line(' Certificate Expiry:', view.certNotAfter);
  }
  return text;
}
