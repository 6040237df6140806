import { describe, expect, it } from 'vitest';
import { Node, NodeAvailability, NodeRole, NodeStatus } from '../../src/gen/vxmesh/v1/node.js';

describe('Node codec', () => {
  it('round-trips int64 fields as bigint, including values past 2^53', () => {
    const node: Node = {
      id: 'n1',
      hostname: 'host-a',
      role: NodeRole.NODE_ROLE_MANAGER,
      availability: NodeAvailability.NODE_AVAILABILITY_DRAIN,
      status: NodeStatus.NODE_STATUS_READY,
      advertiseAddr: '198.51.100.10:4242',
      dataPathAddr: '198.51.100.10',
      createdAt: 1_700_000_000_000n,
      // Past Number.MAX_SAFE_INTEGER: would lose precision if the codec went through number.
      updatedAt: 2n ** 62n + 1n,
    };
    const decoded = Node.decode(Node.encode(node).finish());
    expect(decoded).toEqual(node);
    expect(typeof decoded.createdAt).toBe('bigint');
  });

  it('decodes an empty message to proto3 defaults', () => {
    expect(Node.decode(new Uint8Array())).toEqual({
      id: '',
      hostname: '',
      role: NodeRole.NODE_ROLE_UNSPECIFIED,
      availability: NodeAvailability.NODE_AVAILABILITY_UNSPECIFIED,
      status: NodeStatus.NODE_STATUS_UNSPECIFIED,
      advertiseAddr: '',
      dataPathAddr: '',
      createdAt: 0n,
      updatedAt: 0n,
    });
  });

  it('rejects int64 values that do not fit', () => {
    const node = Node.fromPartial({ createdAt: 2n ** 63n });
    expect(() => Node.encode(node)).toThrow();
  });
});
