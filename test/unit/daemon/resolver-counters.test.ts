import { describe, expect, it } from 'vitest';
import { resolverCounters } from '../../../src/daemon/resolver-counters.js';
import { createDnsCounters } from '../../../src/worker/dns/dns-counters.js';
import { NodeAgent } from '../../../src/worker/node-agent.js';
import { ManualClock } from '../../support/manual-clock.js';

describe('resolverCounters', () => {
  it('folds the embedded DNS counters into what heartbeats carry', () => {
    const c = {
      ...createDnsCounters(),
      udpQueries: 90,
      tcpQueries: 10,
      localAnswers: 60,
      nxdomain: 5,
      forwarded: 30,
      forwardFailures: 2,
      noUpstream: 1,
      refused: 3,
      malformed: 4,
      dropped: 6,
      socketErrors: 7,
      tcpRejected: 8,
      tcpConnections: 99,
    };
    expect(resolverCounters(c)).toEqual({
      queries: 100n,
      answered: 60n,
      forwarded: 30n,
      nxDomain: 5n,
      malformed: 10n,
      refused: 3n,
      failed: 3n,
      errors: 15n,
    });
  });
});

describe('NodeAgent.status', () => {
  const base = {
    identity: { caPem: '', certPem: '', keyPem: '' },
    managerAddrs: [],
    hostname: 'h',
    clock: new ManualClock(),
    saveIdentity: () => Promise.resolve(),
  };

  it('carries the resolver counters the injected callback gives, read at each call', () => {
    let queries = 1n;
    const counters = () => ({ ...resolverCounters(createDnsCounters()), queries });
    const agent = new NodeAgent({ ...base, resolverCounters: counters });
    expect(agent.status.resolver?.queries).toBe(1n);
    queries = 2n;
    expect(agent.status).toMatchObject({ appliedVersion: '', itemCount: 0, resolver: { queries: 2n } });
  });

  it('has no resolver without a callback, or when the callback fails (heartbeats must go on)', () => {
    expect(new NodeAgent(base).status.resolver).toBeUndefined();
    const failing = new NodeAgent({
      ...base,
      resolverCounters: () => {
        throw new Error('boom');
      },
    });
    expect(failing.status.resolver).toBeUndefined();
  });
});
