/**
 * Diff of one LB table: the `nft -f -` statements (one transaction) that turn the observed table
 * into the desired one. Pure. Only changed elements are written: a frontend whose backends changed
 * gets `delete` + `add` of the slots that moved, nothing else; every write also replaces the
 * stamp (see lb-cache.ts). A table that cannot be fixed in place (a set of another type, a chain on
 * another hook, elements nft listed in an unexpected shape) is deleted and created again in the
 * same transaction.
 */
import { BACKENDS_MAP, FRONTENDS_SET, LB_SLOTS, PORTS_MAP, STAMP_SET } from './lb-names.js';
import type { LbTableState } from './lb-state.js';
import { chainLines, createLines, declarationLine, elementLine, tableRef } from './lb-table.js';
import type { DesiredLbTable } from './lb-table.js';

function sameList(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) {
    return true;
  }
  if (a.length !== b.length) {
    return false;
  }
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      return false;
    }
  }
  return true;
}

/**
 * The statements making `observed` (undefined: no such table) equal `desired` (undefined: no
 * table wanted); empty when they already match. `stamp` is written when anything changes.
 */
export function diffLbTable(
  name: string,
  desired: DesiredLbTable | undefined,
  observed: LbTableState | undefined,
  stamp: number,
): string[] {
  const t = tableRef(name);
  if (desired === undefined) {
    return observed === undefined ? [] : [`delete table ${t}`];
  }
  if (observed === undefined) {
    // No `add table` + `delete table` guard against a table appearing since the read: it costs
    // 15-20 ms per transaction on nft 1.0.6, and such a table only makes this transaction fail
    // (or add a duplicate rule), after which the next pass reads it in full and repairs it.
    return createLines(desired, stamp);
  }
  const structural =
    observed.malformed ||
    [...desired.sets].some(([n, d]) => {
      const have = observed.sets.get(n);
      return have !== undefined && (have.type !== d.type || have.map !== d.map);
    }) ||
    desired.chains.some((c) => {
      const have = observed.chains.get(c.name);
      return (
        have !== undefined &&
        (have.type !== 'nat' || have.hook !== c.hook || have.priority !== c.priority || have.policy !== 'accept')
      );
    });
  if (structural) {
    return [`delete table ${t}`, ...createLines(desired, stamp)];
  }

  const declarations: string[] = [];
  for (const [n, d] of desired.sets) {
    if (!observed.sets.has(n)) {
      declarations.push(declarationLine(name, n, d));
    }
  }

  // Elements: deletions first (a slot that changes backend is deleted and added again).
  const deleteFrontends: string[] = [];
  const addFrontends: string[] = [];
  const deleteSlots: string[] = [];
  const addSlots: string[] = [];
  const wantFrontends = desired.sets.has(FRONTENDS_SET);
  const wantBackends = desired.sets.has(BACKENDS_MAP);
  // One walk over the desired frontends, one over the observed ones (10,000s of them).
  for (const [key, want] of desired.frontends) {
    if (wantFrontends && !observed.frontends.has(key)) {
      addFrontends.push(key);
    }
    if (!wantBackends) {
      continue;
    }
    const rr = observed.backends.get(key);
    if (rr !== undefined && sameList(rr, want)) {
      continue;
    }
    const explicit = observed.slots.get(key);
    for (let slot = 0; slot < LB_SLOTS; slot++) {
      const w = want[slot % want.length];
      const h = rr === undefined ? explicit?.[slot] : rr[slot % rr.length];
      if (h !== w) {
        if (h !== undefined) {
          deleteSlots.push(`${key} . ${slot}`);
        }
        addSlots.push(`${key} . ${slot} : ${w ?? ''}`);
      }
    }
  }
  if (wantFrontends) {
    for (const key of observed.frontends) {
      if (!desired.frontends.has(key)) {
        deleteFrontends.push(key);
      }
    }
  }
  if (wantBackends) {
    for (const key of observed.backends.keys()) {
      if (!desired.frontends.has(key)) {
        for (let slot = 0; slot < LB_SLOTS; slot++) {
          deleteSlots.push(`${key} . ${slot}`);
        }
      }
    }
    for (const [key, have] of observed.slots) {
      if (!desired.frontends.has(key)) {
        have.forEach((h, slot) => {
          if (h !== undefined) {
            deleteSlots.push(`${key} . ${slot}`);
          }
        });
      }
    }
    for (const stray of observed.strays.get(BACKENDS_MAP) ?? []) {
      deleteSlots.push(stray);
    }
  }
  const deletePorts: string[] = [];
  const addPorts: string[] = [];
  if (desired.sets.has(PORTS_MAP)) {
    for (const [key, have] of observed.ports) {
      const want = desired.ports.get(key);
      if (want !== have) {
        deletePorts.push(key);
      }
    }
    for (const [key, want] of desired.ports) {
      if (observed.ports.get(key) !== want) {
        addPorts.push(`${key} : ${want}`);
      }
    }
  }

  const chains: string[] = [];
  const wantChains = new Set(desired.chains.map((c) => c.name));
  for (const n of observed.chains.keys()) {
    if (!wantChains.has(n)) {
      // Emptied first: a chain still holding rules cannot be deleted.
      chains.push(`flush chain ${t} ${n}`, `delete chain ${t} ${n}`);
    }
  }
  for (const chain of desired.chains) {
    const have = observed.chains.get(chain.name);
    if (have === undefined) {
      chains.push(...chainLines(name, chain));
      continue;
    }
    const same =
      have.ruleComments.length === chain.rules.length &&
      chain.rules.every((r, i) => have.ruleComments[i] === r.comment);
    if (!same) {
      chains.push(`flush chain ${t} ${chain.name}`, ...chain.rules.map((r) => `add rule ${t} ${chain.name} ${r.text}`));
    }
  }
  // Sets of another layout go last: one still referenced by a rule flushed above can go only then.
  const extraSets: string[] = [];
  for (const [n, d] of observed.sets) {
    if (!desired.sets.has(n)) {
      extraSets.push(`delete ${d.map === undefined ? 'set' : 'map'} ${t} ${n}`);
    }
  }

  const lines = [
    ...declarations,
    ...elementLine('delete', name, FRONTENDS_SET, deleteFrontends),
    ...elementLine('delete', name, BACKENDS_MAP, deleteSlots),
    ...elementLine('delete', name, PORTS_MAP, deletePorts),
    ...chains,
    ...elementLine('add', name, FRONTENDS_SET, addFrontends),
    ...elementLine('add', name, BACKENDS_MAP, addSlots),
    ...elementLine('add', name, PORTS_MAP, addPorts),
    ...extraSets,
  ];
  const stampOk = observed.sets.has(STAMP_SET) && observed.stamps.length === 1;
  if (lines.length === 0 && stampOk) {
    return [];
  }
  if (observed.sets.has(STAMP_SET) && observed.stamps.length > 0) {
    lines.push(`flush set ${t} ${STAMP_SET}`);
  }
  lines.push(...elementLine('add', name, STAMP_SET, [String(stamp)]));
  return lines;
}
