import { describe, expect, it } from 'vitest';
import { dockerNodeJson } from '../../../src/cli/node-inspect-json.js';
import { WORKER1_ID, clusterViews } from '../../cli/node-fixtures.js';

describe('node inspect: encrypted overlays', () => {
  it('shows support, keys, per-peer SA state and counters under Agent.Encryption', () => {
    const base = clusterViews().find((v) => v.node.id === WORKER1_ID);
    if (base?.agent === undefined) {
      throw new Error('fixture without agent');
    }
    const json = dockerNodeJson({
      ...base,
      agent: {
        ...base.agent,
        encryption: {
          supported: true,
          error: '',
          keyTags: [41, 42, 43],
          txTag: 42,
          tunnels: [
            {
              nodeId: 'n2',
              addr: '192.0.2.2',
              state: 'up',
              txSpi: 0x1234abcd,
              txPackets: 10n,
              rxSas: 3,
              rxPackets: 9n,
              replayDropped: 2n,
              integrityFailed: 0n,
            },
          ],
          plaintextDropped: 7n,
          xfrmErrors: { XfrmInStateSeqError: 2n, XfrmInNoStates: 1n },
        },
      },
    });
    expect(json.Agent?.Encryption).toEqual({
      Supported: true,
      Error: '',
      KeyTags: [41, 42, 43],
      TxKeyTag: 42,
      PlaintextDropped: 7,
      XfrmErrors: { XfrmInNoStates: 1, XfrmInStateSeqError: 2 },
      Tunnels: [
        {
          Node: 'n2',
          Addr: '192.0.2.2',
          State: 'up',
          TxSPI: '0x1234abcd',
          TxPackets: 10,
          RxSAs: 3,
          RxPackets: 9,
          ReplayDropped: 2,
          IntegrityFailed: 0,
        },
      ],
    });
    // Absent from the agent's report: absent from the output.
    expect(dockerNodeJson(base).Agent).not.toHaveProperty('Encryption');
  });
});
