// What `network rm` and `network prune` print, word for word as docker/cli prints it
// (cli/command/network/remove.go and prune.go), so scripts and habits carry over.

/** Asked before removing the ingress network, unless --force. */
export const INGRESS_REMOVAL_WARNING =
  'WARNING! Before removing the routing-mesh network, make sure all the nodes in your swarm run the same docker ' +
  'engine version. Otherwise, removal may not be effective and functionality of newly create ingress networks ' +
  'will be impaired.\nAre you sure you want to continue?';

/** Asked before `network prune`, unless --force. */
export const PRUNE_WARNING =
  'WARNING! This will remove all custom networks not used by at least one container.\n' +
  'Are you sure you want to continue?';

/**
 * The `network prune` report: "Deleted Networks:" and one name per line, then the blank line
 * docker's extra Println adds; nothing at all when nothing was removed.
 */
export function formatPruneReport(deletedNames: readonly string[]): string {
  if (deletedNames.length === 0) {
    return '';
  }
  return `Deleted Networks:\n${deletedNames.map((name) => `${name}\n`).join('')}\n`;
}
