import { CNI_ERROR, CniError } from './cni-error.js';

export type CniCommand = 'ADD' | 'DEL' | 'CHECK' | 'STATUS' | 'VERSION' | 'GC';

const COMMANDS: readonly CniCommand[] = ['ADD', 'DEL', 'CHECK', 'STATUS', 'VERSION', 'GC'];

/** The CNI spec's rule for container IDs. */
const CONTAINER_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
/** Linux interface names. */
const IF_NAME = /^[^/:\s]{1,15}$/;

/** What the runtime passed in the environment, checked for the command. */
export interface CniEnvironment {
  readonly command: CniCommand;
  /** Empty for VERSION, STATUS and GC. */
  readonly containerId: string;
  /** Empty when not given (allowed for DEL, VERSION, STATUS, GC). */
  readonly netns: string;
  readonly ifName: string;
  /** CNI_ARGS split into pairs, in order. */
  readonly args: readonly (readonly [string, string])[];
  readonly path: string;
}

function invalid(message: string): CniError {
  return new CniError(CNI_ERROR.INVALID_ENVIRONMENT, message);
}

/**
 * Reads CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH.
 * ADD, DEL and CHECK need a container ID, an interface name and CNI_PATH; ADD and CHECK also a
 * namespace.
 * @throws CniError INVALID_ENVIRONMENT naming the variable.
 */
export function parseCniEnvironment(env: Readonly<Record<string, string | undefined>>): CniEnvironment {
  const raw = env['CNI_COMMAND'] ?? '';
  const command = COMMANDS.find((c) => c === raw);
  if (!command) {
    throw invalid(`CNI_COMMAND ${JSON.stringify(raw)} is not one of ${COMMANDS.join(', ')}`);
  }
  const containerId = env['CNI_CONTAINERID'] ?? '';
  const netns = env['CNI_NETNS'] ?? '';
  const ifName = env['CNI_IFNAME'] ?? '';
  const path = env['CNI_PATH'] ?? '';
  const perAttachment = command === 'ADD' || command === 'DEL' || command === 'CHECK';
  if (perAttachment) {
    if (!CONTAINER_ID.test(containerId)) {
      throw invalid(`CNI_CONTAINERID ${JSON.stringify(containerId)} must match ${CONTAINER_ID.source}`);
    }
    if (!IF_NAME.test(ifName) || ifName === '.' || ifName === '..') {
      throw invalid(`CNI_IFNAME ${JSON.stringify(ifName)} is not a valid interface name`);
    }
    if (path === '') {
      throw invalid('CNI_PATH is required');
    }
    if (command !== 'DEL' && netns === '') {
      throw invalid(`CNI_NETNS is required for ${command}`);
    }
    if (netns !== '' && !netns.startsWith('/')) {
      throw invalid(`CNI_NETNS ${JSON.stringify(netns)} must be an absolute path`);
    }
  }
  return { command, containerId, netns, ifName, args: parseCniArgs(env['CNI_ARGS'] ?? ''), path };
}

/**
 * CNI_ARGS: `KEY=VALUE` pairs separated by `;`.
 * @throws CniError INVALID_ENVIRONMENT for a pair without `=` or with an empty key.
 */
export function parseCniArgs(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of text.split(';')) {
    if (part === '') {
      continue;
    }
    const eq = part.indexOf('=');
    if (eq <= 0) {
      throw invalid(`CNI_ARGS: ${JSON.stringify(part)} is not KEY=VALUE`);
    }
    out.push([part.slice(0, eq), part.slice(eq + 1)]);
  }
  return out;
}
