import { describe, expect, it } from 'vitest';
import { NodeAvailability, NodeRole, NodeStatus } from '../../../../src/gen/vxmesh/v1/node.js';
import type { Node } from '../../../../src/gen/vxmesh/v1/node.js';
import { SentItems } from '../../../../src/manager/dispatcher/sent-items.js';
import { peerItem, sameContent } from '../../../../src/manager/dispatcher/shared-items.js';
import type { SharedItem } from '../../../../src/manager/dispatcher/shared-items.js';

function item(key: string, version = 0): SharedItem {
  return { key, assignment: { item: undefined }, bytes: new Uint8Array([version]) };
}

function node(id: string, dataPathAddr: string, status = NodeStatus.NODE_STATUS_READY): Node {
  return {
    id,
    hostname: id,
    role: NodeRole.NODE_ROLE_WORKER,
    availability: NodeAvailability.NODE_AVAILABILITY_ACTIVE,
    status,
    advertiseAddr: `${dataPathAddr}:2377`,
    dataPathAddr,
    createdAt: 1n,
    updatedAt: 1n,
  };
}

describe('SentItems', () => {
  it('behaves as a map keyed by item key under random operations', () => {
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const sent = new SentItems();
    const model = new Map<string, SharedItem>();
    for (let step = 0; step < 5000; step++) {
      const key = `endpoint/${rand(300)}`;
      const op = rand(10);
      if (op < 5) {
        const it = item(key, step % 256);
        sent.set(it);
        model.set(key, it);
      } else if (op < 8) {
        expect(sent.delete(key)).toBe(model.get(key));
        model.delete(key);
      } else if (op < 9) {
        expect(sent.get(key)).toBe(model.get(key));
      } else if (step % 500 === 0) {
        const fresh = [...new Set(Array.from({ length: 50 }, () => `peer/${rand(100)}`))].map((k) => item(k));
        sent.reset(fresh);
        model.clear();
        for (const it of fresh) {
          model.set(it.key, it);
        }
      }
      expect(sent.size).toBe(model.size);
    }
    expect([...sent.keys()]).toEqual([...model.keys()].sort());
  });
});

describe('shared items', () => {
  it('build one peer item per node record, shared by every caller', () => {
    const a = node('n1', '192.0.2.1');
    expect(peerItem('n1', a)).toBe(peerItem('n1', a));
    expect(peerItem('n1', a).key).toBe('peer/n1');
  });

  it('tell a changed peer from a record rewritten with the same peer content', () => {
    const a = node('n1', '192.0.2.1');
    const statusOnly = node('n1', '192.0.2.1', NodeStatus.NODE_STATUS_DOWN);
    const moved = node('n1', '192.0.2.9');
    expect(sameContent(peerItem('n1', a), peerItem('n1', statusOnly))).toBe(true);
    expect(sameContent(peerItem('n1', a), peerItem('n1', moved))).toBe(false);
  });
});
