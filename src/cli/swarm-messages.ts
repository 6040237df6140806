import type { RoleName } from './node-text.js';

// The text `vxmesh swarm ...` prints, worded like the docker CLI (cli/command/swarm/*.go) with
// `docker` replaced by `vxmesh`, so instructions written for docker read the same.

/** The program name used in printed commands. */
export const CLI_NAME = 'vxmesh';

/** `swarm init` on success; `workerJoinCommand` comes ready-made from the daemon. */
export function swarmInitText(nodeId: string, workerJoinCommand: string): string {
  return (
    `Swarm initialized: current node (${nodeId}) is now a manager.\n\n` +
    `To add a worker to this swarm, run the following command:\n\n    ${workerJoinCommand}\n\n` +
    `To add a manager to this swarm, run '${CLI_NAME} swarm join-token manager' and follow the instructions.\n\n`
  );
}

/** The command that joins a node with `token` through the manager at `managerAddr`. */
export function joinCommand(token: string, managerAddr: string): string {
  return `${CLI_NAME} swarm join --token ${token} ${managerAddr}`;
}

/** `swarm join-token ROLE` without `-q`. */
export function joinTokenText(role: RoleName, token: string, managerAddr: string): string {
  return `To add a ${role} to this swarm, run the following command:\n\n    ${joinCommand(token, managerAddr)}\n\n`;
}

/** Printed before the join instructions by `swarm join-token --rotate` (not with `-q`). */
export function rotatedTokenText(role: RoleName): string {
  return `Successfully rotated ${role} join token.\n\n`;
}

/** `swarm join` on success. */
export function joinedText(role: RoleName): string {
  return `This node joined a swarm as a ${role}.\n`;
}

/** `swarm leave` on success. */
export const LEFT_TEXT = 'Node left the swarm.\n';
