import { describe, expect, it } from 'vitest';
import { Node, NodeAvailability, NodeRole, NodeStatus } from '../../../src/gen/vxmesh/v1/node.js';
import { constraintHolds, parseConstraint } from '../../../src/manager/services/constraints.js';
import { pickNode } from '../../../src/manager/services/scheduler.js';
import type { NodeLoad } from '../../../src/manager/services/scheduler.js';

const node = (id: string, extra: Partial<Node> = {}): Node =>
  Node.fromPartial({
    id,
    hostname: `host-${id}`,
    role: NodeRole.NODE_ROLE_WORKER,
    status: NodeStatus.NODE_STATUS_READY,
    availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    ...extra,
  });

const loads = (table: Record<string, Partial<NodeLoad>>) => (id: string): NodeLoad => ({
  serviceTasks: 0,
  totalTasks: 0,
  holdsHostPorts: false,
  ...table[id],
});

describe('scheduler', () => {
  it('spreads: fewest tasks of the service, then fewest tasks, then lowest ID', () => {
    const nodes = [node('c'), node('a'), node('b')];
    expect(pickNode({ nodes, constraints: [], hostPorts: false, load: loads({}) })).toEqual({ node: nodes[1] });
    expect(
      pickNode({ nodes, constraints: [], hostPorts: false, load: loads({ a: { serviceTasks: 1 }, b: { totalTasks: 3 } }) }),
    ).toEqual({ node: nodes[0] });
    expect(
      pickNode({ nodes, constraints: [], hostPorts: false, load: loads({ a: { serviceTasks: 1 }, b: { serviceTasks: 1 }, c: { serviceTasks: 2 } }) }),
    ).toEqual({ node: nodes[1] });
  });

  it('skips unavailable nodes and says why, in a fixed order', () => {
    const nodes = [
      node('a', { availability: NodeAvailability.NODE_AVAILABILITY_DRAIN }),
      node('b', { status: NodeStatus.NODE_STATUS_DOWN }),
      node('c', { status: NodeStatus.NODE_STATUS_DOWN, availability: NodeAvailability.NODE_AVAILABILITY_DRAIN }),
    ];
    expect(pickNode({ nodes, constraints: [], hostPorts: false, load: loads({}) })).toEqual({
      reason: 'no suitable node (3 nodes not available: 1 drained, 2 down)',
    });
    const more = [
      node('d', { status: NodeStatus.NODE_STATUS_DISCONNECTED }),
      node('e', { availability: NodeAvailability.NODE_AVAILABILITY_PAUSE }),
      node('f', { hostname: 'other' }),
      node('g', { hostname: 'pinned' }),
    ];
    expect(
      pickNode({
        nodes: more,
        constraints: [parseConstraint('node.hostname==pinned')],
        hostPorts: true,
        load: loads({ g: { holdsHostPorts: true } }),
      }),
    ).toEqual({
      reason:
        'no suitable node (4 nodes not available: 1 paused, 1 not ready, 1 not matching the placement constraints, 1 already running a task of the service with host-mode ports)',
    });
    expect(pickNode({ nodes: [], constraints: [], hostPorts: false, load: loads({}) })).toEqual({
      reason: 'no suitable node (no nodes in the cluster)',
    });
    expect(pickNode({ nodes: [nodes[0] as Node], constraints: [], hostPorts: false, load: loads({}) })).toEqual({
      reason: 'no suitable node (1 node not available: 1 drained)',
    });
  });

  it('constraints: id, hostname and role, == and !=, case-insensitive values', () => {
    const n = node('abc', { hostname: 'Web-1', role: NodeRole.NODE_ROLE_MANAGER });
    expect(constraintHolds(n, parseConstraint('node.hostname==web-1'))).toBe(true);
    expect(constraintHolds(n, parseConstraint(' node.hostname != web-1 '))).toBe(false);
    expect(constraintHolds(n, parseConstraint('node.id==abc'))).toBe(true);
    expect(constraintHolds(n, parseConstraint('node.role==manager'))).toBe(true);
    expect(constraintHolds(n, parseConstraint('NODE.ROLE!=worker'))).toBe(true);
    for (const bad of ['node.role', 'node.role=manager', 'node.labels.a==b', 'node.hostname==', 'node.hostname==a b', 'node.role==admin']) {
      expect(() => parseConstraint(bad), bad).toThrow(/invalid constraint/);
    }
  });
});
