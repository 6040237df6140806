import { describe, expect, it } from 'vitest';
import { AssignmentAction, AssignmentsKind } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import type { AssignmentChange, AssignmentsResponse } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { Endpoint } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { AssignmentGapError, AssignmentState } from '../../../src/worker/assignment-state.js';

const ep = (id: string): AssignmentChange => ({
  action: AssignmentAction.ASSIGNMENT_ACTION_UPDATE,
  assignment: { item: { $case: 'endpoint', value: Endpoint.fromPartial({ id }) } },
});
const remove = (id: string): AssignmentChange => ({ ...ep(id), action: AssignmentAction.ASSIGNMENT_ACTION_REMOVE });
const complete = (resultsIn: string, ...changes: AssignmentChange[]): AssignmentsResponse => ({
  kind: AssignmentsKind.ASSIGNMENTS_KIND_COMPLETE,
  appliesTo: '',
  resultsIn,
  changes,
});
const incremental = (appliesTo: string, resultsIn: string, ...changes: AssignmentChange[]): AssignmentsResponse => ({
  kind: AssignmentsKind.ASSIGNMENTS_KIND_INCREMENTAL,
  appliesTo,
  resultsIn,
  changes,
});

describe('AssignmentState', () => {
  it('COMPLETE replaces, INCREMENTAL chains', () => {
    const s = new AssignmentState();
    s.apply(complete('10', ep('a'), ep('b')));
    s.apply(incremental('10', '12', remove('a'), ep('c')));
    expect([...s.items.keys()].sort()).toEqual(['endpoint/b', 'endpoint/c']);
    s.apply(complete('15', ep('z')));
    expect([...s.items.keys()]).toEqual(['endpoint/z']);
    expect(s.resultsIn).toBe(15n);
  });

  it('duplicated and reordered messages change nothing', () => {
    const s = new AssignmentState();
    s.apply(complete('10', ep('a')));
    const m1 = incremental('10', '11', ep('b'));
    const m2 = incremental('11', '12', remove('b'));
    expect(s.apply(m1)).toBe(true);
    expect(s.apply(m1)).toBe(false);
    expect(s.apply(m2)).toBe(true);
    expect(s.apply(m1)).toBe(false);
    expect(s.apply(m2)).toBe(false);
    expect([...s.items.keys()]).toEqual(['endpoint/a']);
  });

  it('a gap is an error that asks for a COMPLETE, and leaves the state as it was', () => {
    const s = new AssignmentState();
    s.apply(complete('10', ep('a')));
    expect(() => s.apply(incremental('11', '12', ep('b')))).toThrow(AssignmentGapError);
    expect([...s.items.keys()]).toEqual(['endpoint/a']);
    expect(s.resultsIn).toBe(10n);
  });

  it('round-trips through bytes', () => {
    const s = new AssignmentState();
    s.apply(complete('7', ep('a'), ep('b')));
    const t = AssignmentState.fromBytes(s.toBytes());
    expect([...t.items.keys()].sort()).toEqual(['endpoint/a', 'endpoint/b']);
    expect(t.resultsIn).toBe(7n);
  });
});
