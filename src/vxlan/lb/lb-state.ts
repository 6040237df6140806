/**
 * A load-balancing table as read from the kernel (`nft -j list table ip vxmesh_lb|vxmesh_publish`),
 * shaped for the diff: elements are grouped the way the diff compares them (the 12 slots of a
 * frontend side by side), in canonical text (`10.0.0.2 . tcp . 80`, decimal numbers).
 */
import type { NftChainState } from '../kernel-state.js';

/** A declared set or map. */
export interface LbSetDeclaration {
  /** Key type, concatenations joined by ` . ` (`ipv4_addr . inet_proto . inet_service`). */
  readonly type: string;
  /** Data type of a map (`ipv4_addr . inet_service`); undefined for a set. */
  readonly map: string | undefined;
}

/** One table of the LB layout. */
export interface LbTableState {
  readonly sets: ReadonlyMap<string, LbSetDeclaration>;
  readonly chains: ReadonlyMap<string, NftChainState>;
  /** Elements of the stamp set (one, normally: the stamp of the last write). */
  readonly stamps: readonly number[];
  /** Elements of the frontend set: `addr . proto . port`. */
  readonly frontends: ReadonlySet<string>;
  /**
   * The backends map, by frontend (`addr . proto . port`), in one of two forms (a key is in one
   * only): `backends` when the 12 slots are the round-robin of a list of distinct backends
   * (slot k → list[k % length]; always so after the driver's writes, so the diff compares a few
   * backends instead of 12 slots), `slots` otherwise (slot → `addr . port`, undefined: empty).
   */
  readonly backends: ReadonlyMap<string, readonly string[]>;
  readonly slots: ReadonlyMap<string, readonly (string | undefined)[]>;
  /** The published-port map: `proto . port` → `addr . port`. */
  readonly ports: ReadonlyMap<string, string>;
  /** Keys of elements that are well formed but outside the layout (a slot ≥ the slot count), by set. */
  readonly strays: ReadonlyMap<string, readonly string[]>;
  /** An element could not be understood at all: the diff rebuilds the table. */
  readonly malformed: boolean;
}

/** A table with nothing in it. */
export const EMPTY_LB_TABLE: LbTableState = {
  sets: new Map(),
  chains: new Map(),
  stamps: [],
  frontends: new Set(),
  backends: new Map(),
  slots: new Map(),
  ports: new Map(),
  strays: new Map(),
  malformed: false,
};

/** `addr . proto . port`: a frontend's key text. */
export function frontendKey(addr: string, protocol: string, port: number): string {
  return `${addr} . ${protocol} . ${port}`;
}

/**
 * The list whose round-robin `slots` are, or undefined when they are not one (an empty slot, or a
 * backend repeated within the period).
 */
export function roundRobinOf(slots: readonly (string | undefined)[]): string[] | undefined {
  for (let period = 1; period <= slots.length; period++) {
    const head = slots.slice(0, period);
    if (head.some((h) => h === undefined) || new Set(head).size !== period) {
      return undefined;
    }
    if (slots.every((h, k) => h === head[k % period])) {
      return head as string[];
    }
  }
  return undefined;
}

/** `addr . port`: a backend's (or DNAT target's) text. */
export function targetText(addr: string, port: number): string {
  return `${addr} . ${port}`;
}

/** `proto . port`: a published port's key text. */
export function portKey(protocol: string, port: number): string {
  return `${protocol} . ${port}`;
}
