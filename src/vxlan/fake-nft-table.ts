/**
 * A fake nftables table for the fake kernel: interprets the statements the driver emits (`add
 * table|counter|set|map|element|chain|rule`, `delete …`, `flush chain|set`) atomically, like
 * `nft -f`, and lists itself in `nft -j` shape (concatenations as `{"concat": [...]}`, map elements
 * as `[key, data]`, numbers as numbers). Rules are kept as text; only their comment is structured.
 */
import { canonicalIp } from './ip-text.js';

/** A fake chain. */
interface FakeChain {
  type: string | undefined;
  hook: string | undefined;
  priority: number | undefined;
  policy: string | undefined;
  rules: { text: string; comment: string | undefined }[];
}

/** Error of an nft statement; the message imitates nft's. */
export class FakeNftError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FakeNftError';
  }
}

const PRIORITY_NAMES: Readonly<Record<string, number>> = { filter: 0, srcnat: 100, dstnat: -100, raw: -300, mangle: -150 };

/** A set, or a map when `map` (its data type) is set; `data` holds a map's values by key. */
export interface FakeNftSet {
  type: string;
  map: string | undefined;
  elements: Set<string>;
  data: Map<string, string>;
}

/** One table. */
export class FakeNftTable {
  sets = new Map<string, FakeNftSet>();
  counters = new Map<string, { packets: number; bytes: number }>();
  chains = new Map<string, FakeChain>();

  constructor(
    readonly family: string,
    readonly name: string,
  ) {}

  clone(): FakeNftTable {
    const t = new FakeNftTable(this.family, this.name);
    for (const [k, v] of this.sets) {
      t.sets.set(k, { type: v.type, map: v.map, elements: new Set(v.elements), data: new Map(v.data) });
    }
    for (const [k, v] of this.counters) {
      t.counters.set(k, { ...v });
    }
    for (const [k, v] of this.chains) {
      t.chains.set(k, { ...v, rules: v.rules.map((r) => ({ ...r })) });
    }
    return t;
  }

  /** The table in `nft -j list table` shape. */
  toJson(): unknown {
    const items: unknown[] = [
      { metainfo: { version: 'fake', json_schema_version: 1 } },
      { table: { family: this.family, name: this.name, handle: 1 } },
    ];
    for (const [name, c] of this.counters) {
      items.push({ counter: { family: this.family, name, table: this.name, packets: c.packets, bytes: c.bytes } });
    }
    for (const name of this.sets.keys()) {
      items.push(this.setJson(name));
    }
    for (const [name, c] of this.chains) {
      const chain: Record<string, unknown> = { family: this.family, table: this.name, name };
      if (c.hook !== undefined) {
        Object.assign(chain, { type: c.type, hook: c.hook, prio: c.priority, policy: c.policy });
      }
      items.push({ chain });
    }
    for (const [name, c] of this.chains) {
      for (const r of c.rules) {
        const rule: Record<string, unknown> = { family: this.family, table: this.name, chain: name, expr: [] };
        if (r.comment !== undefined) {
          rule['comment'] = r.comment;
        }
        items.push({ rule });
      }
    }
    return { nftables: items };
  }

  /** One set or map as `nft -j list set|map` shows it (`{ set: … }` / `{ map: … }`). */
  setJson(name: string): Record<string, unknown> {
    const s = this.sets.get(name);
    if (s === undefined) {
      throw new FakeNftError(`No such file or directory: set ${name}`);
    }
    const set: Record<string, unknown> = { family: this.family, name, table: this.name, type: typeJson(s.type) };
    if (s.map !== undefined) {
      set['map'] = s.map;
    }
    if (s.elements.size > 0) {
      set['elem'] = [...s.elements].map((e) => (s.map === undefined ? valueJson(e) : [valueJson(e), valueJson(s.data.get(e) ?? '')]));
    }
    return s.map === undefined ? { set } : { map: set };
  }
}

/** `a . b` → `["a", "b"]`; a single type stays a string. */
function typeJson(type: string): unknown {
  const parts = type.split(' . ');
  return parts.length === 1 ? type : parts;
}

function partJson(part: string): string | number {
  return /^\d+$/.test(part) ? Number(part) : part;
}

/** An element or map value in `nft -j` shape. */
function valueJson(text: string): unknown {
  const parts = text.split(' . ');
  return parts.length === 1 ? partJson(text) : { concat: parts.map(partJson) };
}

/** Canonical text of an element part: addresses canonical, numbers (hex too) in decimal. */
function canonicalPart(part: string): string {
  if (/^0x[0-9a-f]+$/i.test(part) || /^\d+$/.test(part)) {
    return String(Number(part));
  }
  return canonicalIp(part);
}

function canonicalValue(text: string): string {
  return text
    .split(' . ')
    .map((p) => canonicalPart(p.trim()))
    .join(' . ');
}

/** The state an nft script runs against: the tables of one namespace, by `family name`. */
export type FakeNftTables = Map<string, FakeNftTable>;

/** The elements of an `add|delete element` statement: key text and, for a map, data text. */
function elementsOf(text: string, isMap: boolean): { key: string; data: string | undefined }[] {
  const m = /\{([^}]*)\}/.exec(text);
  return (m?.[1] ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e.length > 0)
    .map((e) => {
      const colon = isMap ? e.indexOf(' : ') : -1;
      return colon < 0
        ? { key: canonicalValue(e), data: undefined }
        : { key: canonicalValue(e.slice(0, colon)), data: canonicalValue(e.slice(colon + 3)) };
    });
}

/** `type a . b . c;` and, for a map, `: d . e` of an `add set|map` statement. */
function declarationOf(line: string): { type: string; map: string | undefined } {
  const m = /type\s+([^;:}]+?)\s*(?::\s*([^;}]+?)\s*)?[;}]/.exec(line);
  return { type: m?.[1] ?? '', map: m?.[2] };
}

/**
 * Applies an `nft -f` script to a copy of `tables` and returns the copy; the original is
 * untouched when any statement fails (one transaction).
 * @throws FakeNftError naming the failing line.
 */
export function applyNftScript(tables: ReadonlyMap<string, FakeNftTable>, script: string): FakeNftTables {
  const next: FakeNftTables = new Map([...tables].map(([k, v]) => [k, v.clone()]));
  const lines = script.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !l.startsWith('#'));
  for (const [i, line] of lines.entries()) {
    try {
      applyStatement(next, line);
    } catch (err) {
      throw new FakeNftError(`Error: ${err instanceof Error ? err.message : String(err)}\n${line}\n(line ${i + 1})`);
    }
  }
  return next;
}

function applyStatement(tables: FakeNftTables, line: string): void {
  const words = line.split(/\s+/);
  const [verb, object, family, tableName, objName] = words;
  if (verb === undefined || object === undefined || family === undefined || tableName === undefined) {
    throw new Error('syntax error');
  }
  const key = `${family} ${tableName}`;
  if (object === 'table') {
    if (verb === 'add') {
      if (!tables.has(key)) {
        tables.set(key, new FakeNftTable(family, tableName));
      }
      return;
    }
    if (verb === 'delete') {
      if (!tables.delete(key)) {
        throw new Error('No such file or directory');
      }
      return;
    }
    throw new Error(`unsupported: ${verb} table`);
  }
  const table = tables.get(key);
  if (table === undefined || objName === undefined) {
    throw new Error('No such file or directory');
  }
  switch (`${verb} ${object}`) {
    case 'add counter': {
      if (!table.counters.has(objName)) {
        table.counters.set(objName, { packets: 0, bytes: 0 });
      }
      return;
    }
    case 'delete counter': {
      if (!table.counters.delete(objName)) {
        throw new Error('No such file or directory');
      }
      return;
    }
    case 'add set':
    case 'add map': {
      const { type, map } = declarationOf(line);
      if ((object === 'map') !== (map !== undefined)) {
        throw new Error('syntax error');
      }
      const set = table.sets.get(objName);
      if (set !== undefined && (set.type !== type || set.map !== map)) {
        throw new Error('File exists');
      }
      if (set === undefined) {
        table.sets.set(objName, { type, map, elements: new Set(), data: new Map() });
      }
      return;
    }
    case 'flush set':
    case 'flush map': {
      const set = table.sets.get(objName);
      if (set === undefined) {
        throw new Error('No such file or directory');
      }
      set.elements.clear();
      set.data.clear();
      return;
    }
    case 'delete set':
    case 'delete map': {
      if ([...table.chains.values()].some((c) => c.rules.some((r) => r.text.includes(`@${objName}`)))) {
        throw new Error('Device or resource busy');
      }
      if (!table.sets.delete(objName)) {
        throw new Error('No such file or directory');
      }
      return;
    }
    case 'add element': {
      const set = table.sets.get(objName);
      if (set === undefined) {
        throw new Error('No such file or directory');
      }
      for (const e of elementsOf(line, set.map !== undefined)) {
        if (set.map !== undefined) {
          if (e.data === undefined) {
            throw new Error('syntax error: map element without data');
          }
          const have = set.data.get(e.key);
          if (have !== undefined && have !== e.data) {
            // The kernel refuses to change a map element's data in place.
            throw new Error('Could not process rule: File exists');
          }
          set.data.set(e.key, e.data);
        }
        set.elements.add(e.key);
      }
      return;
    }
    case 'delete element': {
      const set = table.sets.get(objName);
      if (set === undefined) {
        throw new Error('No such file or directory');
      }
      for (const e of elementsOf(line, set.map !== undefined)) {
        if (!set.elements.delete(e.key)) {
          throw new Error('No such file or directory');
        }
        set.data.delete(e.key);
      }
      return;
    }
    case 'add chain': {
      if (table.chains.has(objName)) {
        return;
      }
      const type = /type\s+(\w+)/.exec(line)?.[1];
      const hook = /hook\s+(\w+)/.exec(line)?.[1];
      const prio = /priority\s+(-?\w+)/.exec(line)?.[1];
      const policy = /policy\s+(\w+)/.exec(line)?.[1];
      table.chains.set(objName, {
        type,
        hook,
        priority: prio === undefined ? undefined : (PRIORITY_NAMES[prio] ?? Number(prio)),
        policy: hook === undefined ? undefined : (policy ?? 'accept'),
        rules: [],
      });
      return;
    }
    case 'delete chain': {
      const chain = table.chains.get(objName);
      if (chain === undefined) {
        throw new Error('No such file or directory');
      }
      if (chain.rules.length > 0) {
        throw new Error('Device or resource busy');
      }
      table.chains.delete(objName);
      return;
    }
    case 'flush chain': {
      const chain = table.chains.get(objName);
      if (chain === undefined) {
        throw new Error('No such file or directory');
      }
      chain.rules = [];
      return;
    }
    case 'add rule': {
      const chain = table.chains.get(objName);
      if (chain === undefined) {
        throw new Error('No such file or directory');
      }
      const text = words.slice(5).join(' ');
      for (const m of text.matchAll(/@(\w+)/g)) {
        if (!table.sets.has(m[1] ?? '')) {
          throw new Error(`Could not process rule: set ${m[1]} does not exist`);
        }
      }
      const counter = /counter name (\w+)/.exec(text)?.[1];
      if (counter !== undefined && !table.counters.has(counter)) {
        throw new Error('Could not process rule: No such file or directory');
      }
      chain.rules.push({ text, comment: /comment "([^"]*)"/.exec(text)?.[1] });
      return;
    }
    default: {
      throw new Error(`unsupported statement: ${verb} ${object}`);
    }
  }
}
