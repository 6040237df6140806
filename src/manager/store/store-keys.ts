/**
 * Key layout of cluster state. Every key lives under the store's namespace; bumping the `v1`
 * segment is how an incompatible layout change would be introduced.
 */
export const storeKeys = {
  cluster: 'v1/cluster',
  caSecret: 'v1/ca',
  joinTokens: 'v1/join-tokens',
  nodesPrefix: 'v1/nodes/',
  node: (id: string): string => `v1/nodes/${id}`,
} as const;
