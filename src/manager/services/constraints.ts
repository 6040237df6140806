import { InvalidArgumentError } from '../../common/errors.js';
import { NodeRole } from '../../gen/vxmesh/v1/node.js';
import type { Node } from '../../gen/vxmesh/v1/node.js';

/** The node attributes a placement constraint may test. */
export type ConstraintKey = 'node.id' | 'node.hostname' | 'node.role';

/** One parsed `--constraint`, e.g. `node.role==manager`. */
export interface PlacementConstraint {
  readonly key: ConstraintKey;
  readonly op: '==' | '!=';
  readonly value: string;
}

const KEYS: readonly ConstraintKey[] = ['node.id', 'node.hostname', 'node.role'];
const ROLES = ['manager', 'worker'] as const;

/**
 * Parses a constraint as docker writes it: `<key> <op> <value>` with `==` or `!=`, spaces around
 * the operator allowed. Keys are case-insensitive, as in swarmkit.
 * @throws InvalidArgumentError('constraint', ...) naming the constraint and what is wrong.
 */
export function parseConstraint(text: string): PlacementConstraint {
  const match = /^\s*([^=!\s]+)\s*(==|!=)\s*(.*?)\s*$/.exec(text);
  if (!match) {
    throw new InvalidArgumentError(
      'constraint',
      `${JSON.stringify(text)}: expected <key>==<value> or <key>!=<value>, e.g. node.role==manager`,
    );
  }
  const [, rawKey = '', op = '==', value = ''] = match;
  const key = KEYS.find((k) => k === rawKey.toLowerCase());
  if (!key) {
    throw new InvalidArgumentError(
      'constraint',
      `${JSON.stringify(text)}: unsupported key ${JSON.stringify(rawKey)} (supported: ${KEYS.join(', ')})`,
    );
  }
  if (value === '' || /[\s=!]/.test(value)) {
    throw new InvalidArgumentError('constraint', `${JSON.stringify(text)}: the value must be one word`);
  }
  if (key === 'node.role' && !ROLES.some((r) => r === value.toLowerCase())) {
    throw new InvalidArgumentError(
      'constraint',
      `${JSON.stringify(text)}: node.role is ${ROLES.join(' or ')}, not ${JSON.stringify(value)}`,
    );
  }
  return { key, op: op === '!=' ? '!=' : '==', value };
}

function roleName(role: NodeRole): string {
  switch (role) {
    case NodeRole.NODE_ROLE_MANAGER: {
      return 'manager';
    }
    case NodeRole.NODE_ROLE_WORKER: {
      return 'worker';
    }
    default: {
      return '';
    }
  }
}

/** Whether the node satisfies one constraint; values compare case-insensitively (swarmkit's rule). */
export function constraintHolds(node: Node, c: PlacementConstraint): boolean {
  const actual = c.key === 'node.id' ? node.id : c.key === 'node.hostname' ? node.hostname : roleName(node.role);
  const equal = actual.toLowerCase() === c.value.toLowerCase();
  return c.op === '==' ? equal : !equal;
}

/** Whether the node satisfies every constraint (none: always). */
export function constraintsHold(node: Node, constraints: readonly PlacementConstraint[]): boolean {
  return constraints.every((c) => constraintHolds(node, c));
}
