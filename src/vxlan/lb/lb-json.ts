/**
 * Parsers of `nft -j list table ip vxmesh_lb|vxmesh_publish` and `nft -j list set … stamp` into
 * {@link LbTableState}. Pure and defensive like kernel-json.ts: unexpected shapes are skipped or
 * flagged (`malformed`), never trusted.
 */
import { canonicalIp } from '../ip-text.js';
import { parseNftChains } from '../kernel-json.js';
import { BACKENDS_MAP, FRONTENDS_SET, LB_SLOTS, PORTS_MAP, STAMP_SET } from './lb-names.js';
import { frontendKey, portKey, roundRobinOf, targetText } from './lb-state.js';
import type { LbSetDeclaration, LbTableState } from './lb-state.js';

type JsonObject = Readonly<Record<string, unknown>>;
type Part = string | number;

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function items(value: unknown): JsonObject[] {
  const list = isObject(value) ? value['nftables'] : undefined;
  return Array.isArray(list) ? list.filter(isObject) : [];
}

function str(o: JsonObject, key: string): string | undefined {
  const v = o[key];
  return typeof v === 'string' ? v : undefined;
}

/** `"mark"` or `["ipv4_addr", "inet_proto"]` → `mark` / `ipv4_addr . inet_proto`. */
function typeText(value: unknown): string {
  if (typeof value === 'string') {
    return value;
  }
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string').join(' . ') : '';
}

/** The parts of one key or value: `{"concat": [...]}`, a bare value, or `{"elem": {"val": …}}`. */
function partsOf(value: unknown): Part[] | undefined {
  if (typeof value === 'string' || typeof value === 'number') {
    return [value];
  }
  if (!isObject(value)) {
    return undefined;
  }
  const concat = value['concat'];
  if (Array.isArray(concat)) {
    const parts = concat.filter((p): p is Part => typeof p === 'string' || typeof p === 'number');
    return parts.length === concat.length ? parts : undefined;
  }
  const elem = value['elem'];
  return isObject(elem) ? partsOf(elem['val']) : undefined;
}

/** A map element `[key, value]` (value undefined for a set element). */
function elementOf(value: unknown): { key: Part[]; data: Part[] | undefined } | undefined {
  if (Array.isArray(value) && value.length === 2) {
    const key = partsOf(value[0]);
    const data = partsOf(value[1]);
    return key === undefined || data === undefined ? undefined : { key, data };
  }
  const key = partsOf(value);
  return key === undefined ? undefined : { key, data: undefined };
}

const PROTOCOL_NUMBERS: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp' };

function protocol(p: Part | undefined): string | undefined {
  if (typeof p === 'number') {
    return PROTOCOL_NUMBERS[p];
  }
  return p === 'tcp' || p === 'udp' ? p : undefined;
}

function port(p: Part | undefined): number | undefined {
  return typeof p === 'number' && Number.isInteger(p) && p >= 0 && p <= 65535 ? p : undefined;
}

function ipv4(p: Part | undefined): string | undefined {
  return typeof p === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(p) ? canonicalIp(p) : undefined;
}

/** `addr . port` from data parts, or undefined. */
function target(data: Part[] | undefined): string | undefined {
  const addr = ipv4(data?.[0]);
  const p = port(data?.[1]);
  return addr === undefined || p === undefined || data?.length !== 2 ? undefined : targetText(addr, p);
}

/**
 * The elements of an `nft -j list set` answer for the stamp set, or undefined when the answer has
 * no such set.
 */
export function parseStampSet(value: unknown): number[] | undefined {
  for (const item of items(value)) {
    const set = item['set'];
    if (isObject(set) && str(set, 'name') === STAMP_SET) {
      const elem = set['elem'];
      return Array.isArray(elem) ? elem.filter((e): e is number => typeof e === 'number') : [];
    }
  }
  return undefined;
}

/** The table listed by `nft -j list table ip <name>` (either LB layout). */
export function parseLbTable(value: unknown): LbTableState {
  const sets = new Map<string, LbSetDeclaration>();
  const chains = parseNftChains(value);
  const stamps: number[] = [];
  const frontends = new Set<string>();
  const slots = new Map<string, (string | undefined)[]>();
  const ports = new Map<string, string>();
  const strays = new Map<string, string[]>();
  let malformed = false;

  const stray = (set: string, key: string): void => {
    const list = strays.get(set) ?? [];
    list.push(key);
    strays.set(set, list);
  };

  for (const item of items(value)) {
    const setItem = item['set'];
    const mapItem = item['map'];
    const set = isObject(setItem) ? setItem : isObject(mapItem) ? mapItem : undefined;
    if (set !== undefined) {
      const name = str(set, 'name');
      if (name === undefined) {
        continue;
      }
      const map = set['map'];
      sets.set(name, { type: typeText(set['type']), map: map === undefined ? undefined : typeText(map) });
      const elem = set['elem'];
      const elements = Array.isArray(elem) ? elem : [];
      for (const raw of elements) {
        const e = elementOf(raw);
        if (e === undefined) {
          malformed = true;
          continue;
        }
        if (name === STAMP_SET) {
          const [n] = e.key;
          if (typeof n === 'number' && e.key.length === 1) {
            stamps.push(n);
          } else {
            malformed = true;
          }
        } else if (name === FRONTENDS_SET) {
          const [a, p, n] = [ipv4(e.key[0]), protocol(e.key[1]), port(e.key[2])];
          if (a === undefined || p === undefined || n === undefined || e.key.length !== 3) {
            malformed = true;
          } else {
            frontends.add(frontendKey(a, p, n));
          }
        } else if (name === BACKENDS_MAP) {
          const [a, p, n, slot] = [ipv4(e.key[0]), protocol(e.key[1]), port(e.key[2]), e.key[3]];
          const data = target(e.data);
          if (
            a === undefined ||
            p === undefined ||
            n === undefined ||
            typeof slot !== 'number' ||
            e.key.length !== 4 ||
            data === undefined
          ) {
            malformed = true;
            continue;
          }
          const key = frontendKey(a, p, n);
          if (!Number.isInteger(slot) || slot < 0 || slot >= LB_SLOTS) {
            stray(name, `${key} . ${slot}`);
            continue;
          }
          const list = slots.get(key) ?? new Array<string | undefined>(LB_SLOTS).fill(undefined);
          list[slot] = data;
          slots.set(key, list);
        } else if (name === PORTS_MAP) {
          const [p, n] = [protocol(e.key[0]), port(e.key[1])];
          const data = target(e.data);
          if (p === undefined || n === undefined || e.key.length !== 2 || data === undefined) {
            malformed = true;
          } else {
            ports.set(portKey(p, n), data);
          }
        }
        // Elements of a set of another layout are not kept: the diff deletes the whole set.
      }
    }
  }
  const backends = new Map<string, string[]>();
  for (const [key, list] of slots) {
    const rr = roundRobinOf(list);
    if (rr !== undefined) {
      backends.set(key, rr);
      slots.delete(key);
    }
  }
  return { sets, chains, stamps, frontends, backends, slots, ports, strays, malformed };
}
