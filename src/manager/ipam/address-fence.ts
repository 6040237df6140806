/**
 * Fences that make address garbage collection unable to cause a duplicate (see README.md,
 * "Sweep"). Every subnet has a sweep epoch key (`<subnet prefix>swept`) that the sweeper
 * rewrites before it reads owners and again in every transaction that frees addresses. A fence is
 * a condition on that key's modRevision, carried by every write that relies on the sweeper not
 * having freed an address since a known point:
 * - an owner write (endpoint, VIP) compares the epoch with its value at the allocation's commit,
 *   so a write whose address may have been reclaimed fails instead of holding a freed address;
 * - a give-back after a failed owner write carries that same fence, so it never frees an address
 *   the sweeper already freed and someone else took;
 * - a give-back after an owner record was deleted compares the epoch with the deletion's revision.
 * Pure: no store access.
 */

/** A condition on a subnet's sweep epoch key; a `Compare` a transaction can carry as is. */
export interface AddressFence {
  readonly key: string;
  readonly target: 'modRevision';
  /** `==`: the epoch has not moved since it was read; `<`: it has not moved since a revision. */
  readonly op: '==' | '<';
  readonly value: bigint;
}

/**
 * Fence of an address allocated while the epoch key had modRevision `epochModRevision` (0 when
 * absent): holds until the next sweep step on the subnet.
 */
export function allocationFence(epochKey: string, epochModRevision: bigint): AddressFence {
  return { key: epochKey, target: 'modRevision', op: '==', value: epochModRevision };
}

/**
 * Fence of an address whose owner record was deleted (or rewritten without it) at revision
 * `removedAt`: holds while no sweep step happened after that revision. A sweep step before it
 * cannot have freed the address, since the owner still held it (an owner that appeared after
 * the sweep's read carries an allocation fence that step broke).
 */
export function removalFence(epochKey: string, removedAt: bigint): AddressFence {
  return { key: epochKey, target: 'modRevision', op: '<', value: removedAt + 1n };
}

/** Whether `fence` holds when the epoch key's modRevision is `epochModRevision` (0 when absent). */
export function fenceHolds(fence: AddressFence, epochModRevision: bigint): boolean {
  return fence.op === '==' ? epochModRevision === fence.value : epochModRevision < fence.value;
}
