import { once } from 'node:events';
import * as tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../src/common/errors.js';
import { certificateIdentity } from '../../../../src/common/tls/certificate-identity.js';
import { generateKeyAndCsr } from '../../../../src/common/tls/key-pair.js';
import {
  createRootCa,
  DEFAULT_NODE_CERT_VALIDITY_MS,
  renewalTime,
  signNodeCertificate,
} from '../../../../src/manager/ca/certificate-authority.js';

const now = Date.UTC(2026, 10, 22);

describe('certificate authority', () => {
  it('signs node certificates that carry node ID, role and cluster, and that OpenSSL accepts for mTLS', async () => {
    const ca = await createRootCa('cluster-a', Date.now());
    const manager = await generateKeyAndCsr();
    const worker = await generateKeyAndCsr();
    const sign = (csrPem: string, nodeId: string, role: 'manager' | 'worker'): string =>
      signNodeCertificate(ca, {
        csrPem,
        nodeId,
        role,
        clusterId: 'cluster-a',
        now: Date.now(),
        validityMs: DEFAULT_NODE_CERT_VALIDITY_MS,
      });
    const managerCert = sign(manager.csrPem, 'node-m', 'manager');
    const workerCert = sign(worker.csrPem, 'node-w', 'worker');

    const id = certificateIdentity(workerCert);
    expect(id).toMatchObject({ nodeId: 'node-w', role: 'worker', clusterId: 'cluster-a' });
    expect(id.notAfter.getTime() - id.notBefore.getTime()).toBe(DEFAULT_NODE_CERT_VALIDITY_MS + 3600_000);

    const server = tls.createServer(
      { key: manager.keyPem, cert: managerCert, ca: ca.certPem, requestCert: true, rejectUnauthorized: true },
      (socket) => {
        const peer = socket.getPeerCertificate();
        socket.end([peer.subject.CN, peer.subject.OU, peer.subject.O].map(String).join('/'));
      },
    );
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const { port } = server.address() as AddressInfo;
      const client = tls.connect({
        host: '127.0.0.1',
        port,
        key: worker.keyPem,
        cert: workerCert,
        ca: ca.certPem,
        servername: 'node-m',
      });
      let reply = '';
      client.on('data', (d: Buffer) => (reply += d.toString()));
      await once(client, 'end');
      expect(reply).toBe('node-w/vxmesh-worker/cluster-a');
    } finally {
      server.close();
    }
  });

  it('ignores the subject a CSR asks for and rejects bad input', async () => {
    const ca = await createRootCa('c', now);
    const { csrPem } = await generateKeyAndCsr();
    expect(() =>
      signNodeCertificate(ca, {
        csrPem: 'garbage',
        nodeId: 'n',
        role: 'worker',
        clusterId: 'c',
        now,
        validityMs: DEFAULT_NODE_CERT_VALIDITY_MS,
      }),
    ).toThrow(InvalidArgumentError);
    expect(() =>
      signNodeCertificate(ca, { csrPem, nodeId: 'n', role: 'worker', clusterId: 'c', now, validityMs: 60_000 }),
    ).toThrow(/at least 1 hour/);
    expect(() => certificateIdentity(ca.certPem)).toThrow(/lacks the node ID/);
  });

  it('renews between 50% and 80% of the lifetime', () => {
    const notBefore = now - 3600_000;
    const notAfter = now + 100_000_000;
    expect(renewalTime(notBefore, notAfter, () => 0)).toBe(now + 50_000_000);
    expect(renewalTime(notBefore, notAfter, () => 0.999999)).toBeCloseTo(now + 80_000_000, -2);
  });
});
