import { describe, expect, it } from 'vitest';
import {
  formatNodeIds,
  formatNodeJsonLines,
  formatNodeTable,
  nodeListEntries,
} from '../../../src/cli/node-list-format.js';
import { NodeStatus } from '../../../src/gen/vxmesh/v1/node.js';
import { MANAGER_ID, WORKER1_ID, WORKER2_ID, clusterViews } from '../../cli/node-fixtures.js';

describe('node ls formatting', () => {
  it('sorts by hostname and lays the table out like docker', () => {
    const entries = nodeListEntries(clusterViews(), WORKER1_ID);
    expect(formatNodeTable(entries)).toBe(
      [
        'ID                            HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS',
        `${MANAGER_ID}     manager1   Ready     Active         Leader`,
        `${WORKER1_ID} *   worker1    Ready     Active`,
        `${WORKER2_ID}     worker2    Down      Drain`,
        '',
      ].join('\n'),
    );
  });

  it('prints only the header for an empty cluster', () => {
    expect(formatNodeTable([])).toBe('ID        HOSTNAME   STATUS    AVAILABILITY   MANAGER STATUS\n');
  });

  it('sorts hostnames naturally, then by ID', () => {
    const [a, b] = clusterViews();
    const views = [
      { ...a!, node: { ...a!.node, id: 'z', hostname: 'node10' } },
      { ...a!, node: { ...a!.node, id: 'y', hostname: 'node2' } },
      { ...b!, node: { ...b!.node, id: 'x', hostname: 'node2' } },
    ];
    expect(nodeListEntries(views, '').map((e) => e.ID)).toEqual(['x', 'y', 'z']);
  });

  it('shows manager reachability, Unknown when the daemon cannot tell, and statuses capitalised', () => {
    const [, leader] = clusterViews();
    const views = [
      { ...leader!, leader: false, reachability: 'unreachable' },
      { ...leader!, node: { ...leader!.node, id: 'm2' }, leader: false, reachability: '' },
      { ...leader!, node: { ...leader!.node, id: 'm3', status: NodeStatus.NODE_STATUS_DISCONNECTED } },
      { ...leader!, node: { ...leader!.node, id: 'm4', status: NodeStatus.NODE_STATUS_UNSPECIFIED } },
    ];
    expect(nodeListEntries(views, '').map((e) => [e.ID, e.Status, e.ManagerStatus])).toEqual([
      ['e216jshn25ckzbvmwlnh5jr3g', 'Ready', 'Unreachable'],
      ['m2', 'Ready', 'Unknown'],
      ['m3', 'Disconnected', 'Leader'],
      ['m4', 'Unknown', 'Leader'],
    ]);
  });

  it('prints docker {{json .}} lines and bare IDs', () => {
    const entries = nodeListEntries(clusterViews(), MANAGER_ID);
    const lines = formatNodeJsonLines(entries).split('\n');
    expect(lines).toHaveLength(4);
    expect(JSON.parse(lines[1]!)).toEqual({
      Availability: 'Active',
      Hostname: 'worker1',
      ID: WORKER1_ID,
      ManagerStatus: '',
      Self: false,
      Status: 'Ready',
    });
    expect(Object.keys(JSON.parse(lines[0]!) as object)).toEqual([
      'Availability',
      'Hostname',
      'ID',
      'ManagerStatus',
      'Self',
      'Status',
    ]);
    expect(formatNodeIds(entries)).toBe(`${MANAGER_ID}\n${WORKER1_ID}\n${WORKER2_ID}\n`);
  });
});
