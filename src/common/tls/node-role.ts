/** A node's role as written into its certificate's OU; authorization reads it from there. */
export type NodeRole = 'manager' | 'worker';

export const ROLE_OU: Record<NodeRole, string> = {
  manager: 'vxmesh-manager',
  worker: 'vxmesh-worker',
};

/** Maps an OU back to a role; undefined for anything that is not ours. */
export function roleFromOu(ou: string | undefined): NodeRole | undefined {
  if (ou === ROLE_OU.manager) {
    return 'manager';
  }
  if (ou === ROLE_OU.worker) {
    return 'worker';
  }
  return undefined;
}
