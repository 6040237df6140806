import { VxmeshError } from '../common/errors.js';
import { AssignmentAction, AssignmentsKind, AssignmentsResponse } from '../gen/vxmesh/v1/dispatcher.js';
import type { Assignment } from '../gen/vxmesh/v1/dispatcher.js';
import { assignmentKey } from '../common/assignment-key.js';

/** An INCREMENTAL arrived that does not follow the last applied message: ask for a COMPLETE. */
export class AssignmentGapError extends VxmeshError {
  constructor(appliesTo: string, last: string) {
    super('FAILED_PRECONDITION', `assignments gap: message applies to ${appliesTo} but ${last || 'nothing'} was applied`);
  }
}

/**
 * The items the managers assigned to this node, applied message by message. A COMPLETE replaces
 * everything (what it lacks is gone); an INCREMENTAL must chain onto the last applied message; a
 * message no newer than the last one (duplicate, reordered) changes nothing.
 */
export class AssignmentState {
  #items = new Map<string, Assignment>();
  #resultsIn: bigint | undefined;

  get resultsIn(): bigint | undefined {
    return this.#resultsIn;
  }

  get items(): ReadonlyMap<string, Assignment> {
    return this.#items;
  }

  /**
   * @returns whether the message changed the state.
   * @throws AssignmentGapError when an INCREMENTAL does not chain onto the last applied message.
   */
  apply(message: AssignmentsResponse): boolean {
    const resultsIn = BigInt(message.resultsIn || '0');
    if (message.kind === AssignmentsKind.ASSIGNMENTS_KIND_COMPLETE) {
      const items = new Map<string, Assignment>();
      for (const change of message.changes) {
        if (change.assignment && change.action === AssignmentAction.ASSIGNMENT_ACTION_UPDATE) {
          items.set(assignmentKey(change.assignment), change.assignment);
        }
      }
      this.#items = items;
      this.#resultsIn = resultsIn;
      return true;
    }
    if (this.#resultsIn !== undefined && resultsIn <= this.#resultsIn) {
      return false;
    }
    const last = this.#resultsIn?.toString() ?? '';
    if (message.appliesTo !== last) {
      throw new AssignmentGapError(message.appliesTo, last);
    }
    for (const change of message.changes) {
      if (!change.assignment) {
        continue;
      }
      const key = assignmentKey(change.assignment);
      if (change.action === AssignmentAction.ASSIGNMENT_ACTION_REMOVE) {
        this.#items.delete(key);
      } else {
        this.#items.set(key, change.assignment);
      }
    }
    this.#resultsIn = resultsIn;
    return true;
  }

  /** The state as a COMPLETE message, for saving to disk. */
  toMessage(): AssignmentsResponse {
    return {
      kind: AssignmentsKind.ASSIGNMENTS_KIND_COMPLETE,
      appliesTo: '',
      resultsIn: this.#resultsIn?.toString() ?? '',
      changes: [...this.#items.values()].map((assignment) => ({
        action: AssignmentAction.ASSIGNMENT_ACTION_UPDATE,
        assignment,
      })),
    };
  }

  /** Restores a state saved with `toMessage()`. */
  static fromBytes(bytes: Uint8Array): AssignmentState {
    const state = new AssignmentState();
    state.apply(AssignmentsResponse.decode(bytes));
    return state;
  }

  toBytes(): Uint8Array {
    return AssignmentsResponse.encode(this.toMessage()).finish();
  }
}
