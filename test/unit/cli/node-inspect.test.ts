import { describe, expect, it } from 'vitest';
import { dockerNodeJson, formatNodeInspect } from '../../../src/cli/node-inspect-json.js';
import { formatNodePretty } from '../../../src/cli/node-inspect-pretty.js';
import { MANAGER_ID, WORKER1_ID, clusterViews } from '../../cli/node-fixtures.js';

function view(id: string) {
  const found = clusterViews().find((v) => v.node.id === id);
  if (found === undefined) {
    throw new Error(`no fixture ${id}`);
  }
  return found;
}

describe('node inspect', () => {
  it('shapes a manager like docker, with ManagerStatus', () => {
    expect(dockerNodeJson(view(MANAGER_ID))).toEqual({
      ID: MANAGER_ID,
      Version: { Index: 10 },
      CreatedAt: '2024-05-16T22:52:44.991Z',
      UpdatedAt: '2024-05-16T22:52:49.991Z',
      Spec: { Labels: {}, Role: 'manager', Availability: 'active' },
      Description: { Hostname: 'manager1' },
      Status: { State: 'ready', Addr: '10.0.0.10' },
      ManagerStatus: { Leader: true, Reachability: 'reachable', Addr: '10.0.0.10:2377' },
    });
  });

  it('leaves out ManagerStatus for workers and Leader for followers, like docker omitempty', () => {
    expect(dockerNodeJson(view(WORKER1_ID))).not.toHaveProperty('ManagerStatus');
    const follower = { ...view(MANAGER_ID), leader: false, reachability: 'unreachable' };
    expect(dockerNodeJson(follower).ManagerStatus).toEqual({ Reachability: 'unreachable', Addr: '10.0.0.10:2377' });
  });

  it('shows the agent with its resolver counters under the vxmesh-specific Agent object', () => {
    expect(dockerNodeJson(view(WORKER1_ID)).Agent).toEqual({
      Session: 'connected',
      AppliedVersion: '418',
      Items: 7,
      LastError: '',
      Resolver: {
        Queries: 1520,
        Answered: 1200,
        Forwarded: 290,
        NxDomain: 24,
        Malformed: 3,
        Refused: 1,
        Failed: 2,
        Errors: 0,
      },
    });
    const v = view(WORKER1_ID);
    const withoutResolver = dockerNodeJson({
      ...v,
      agent: { appliedVersion: '1', lastError: '', itemCount: 0, resolver: undefined, overlayMtus: {} },
    });
    expect(withoutResolver.Agent).not.toHaveProperty('Resolver');
    expect(dockerNodeJson(view(MANAGER_ID))).not.toHaveProperty('Agent');
  });

  it('prints unset times as Go zero time and IPv6 hosts without brackets', () => {
    const v = view(WORKER1_ID);
    const json = dockerNodeJson({ ...v, node: { ...v.node, createdAt: 0n, advertiseAddr: '[fd00::5]:2377' } });
    expect(json.CreatedAt).toBe('0001-01-01T00:00:00Z');
    expect(json.Status).toEqual({ State: 'ready', Addr: 'fd00::5' });
  });

  it('indents the array with 4 spaces', () => {
    const text = formatNodeInspect([dockerNodeJson(view(WORKER1_ID))]);
    expect(text.split('\n').slice(0, 4)).toEqual([
      '[',
      '    {',
      `        "ID": "${WORKER1_ID}",`,
      '        "Version": {',
    ]);
    expect(formatNodeInspect([])).toBe('[]\n');
  });

  it('prints --pretty with values aligned like docker', () => {
    expect(formatNodePretty(view(MANAGER_ID))).toBe(
      [
        `ID:                     ${MANAGER_ID}`,
        'Hostname:               manager1',
        'Joined at:              2024-05-16 22:52:44.991 +0000 utc',
        'Status:',
        ' State:                 Ready',
        ' Availability:          Active',
        ' Address:               10.0.0.10',
        'Manager Status:',
        ' Address:               10.0.0.10:2377',
        ' Raft Status:           Reachable',
        ' Leader:                Yes',
        'TLS Info:',
        ' Certificate Expiry:    2024-08-14T22:52:44Z',
        '',
      ].join('\n'),
    );
    expect(formatNodePretty(view(WORKER1_ID))).toContain(' Data Path Address:     192.168.50.11\n');
    expect(formatNodePretty(view(WORKER1_ID))).not.toContain('Manager Status:');
  });
});
