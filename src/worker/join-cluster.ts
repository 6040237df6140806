import { createSocket } from 'node:dgram';
import { VxmeshError } from '../common/errors.js';
import { formatHostPort } from '../common/net/host-port.js';
import type { HostPort } from '../common/net/host-port.js';
import { callUnary } from '../common/rpc/call-unary.js';
import { generateKeyAndCsr } from '../common/tls/key-pair.js';
import type { TlsIdentity } from '../common/tls/mutable-certificate-provider.js';
import { CertificateAuthorityClient } from '../gen/vxmesh/v1/ca.js';
import type { NodeAvailability, NodeRole } from '../gen/vxmesh/v1/node.js';
import { caDigestHex, parseJoinToken } from '../manager/ca/join-token.js';
import { clusterChannelOptions, pinnedCaCredentials, untrustedCredentials } from './cluster-channel.js';

const JOIN_CALL_TIMEOUT_MS = 10_000;

export interface JoinRequest {
  readonly remote: HostPort;
  readonly token: string;
  readonly hostname: string;
  /** "host:port" this node is known by. */
  readonly advertiseAddr: string;
  readonly dataPathAddr: string;
  readonly availability: NodeAvailability;
  readonly signal?: AbortSignal;
}

export interface JoinResult {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly role: NodeRole;
  readonly identity: TlsIdentity;
  readonly managerAddrs: string[];
  readonly etcdEndpoints: string[];
}

/**
 * Enrols this node: downloads the CA bundle over TLS without trusting it, refuses to go on unless
 * its SHA-256 equals the token's digest, then sends a CSR with the token over TLS pinned to that CA.
 */
export async function joinCluster(req: JoinRequest): Promise<JoinResult> {
  const token = parseJoinToken(req.token);
  const target = formatHostPort(req.remote);
  const opts = { timeoutMs: JOIN_CALL_TIMEOUT_MS, ...(req.signal ? { signal: req.signal } : {}) };

  const untrusted = new CertificateAuthorityClient(target, untrustedCredentials(), clusterChannelOptions);
  let caPem: string;
  try {
    caPem = (await callUnary(untrusted.getRootCaCertificate.bind(untrusted), {}, `fetch the CA from ${target}`, opts))
      .certificatePem;
  } finally {
    untrusted.close();
  }
  if (caDigestHex(caPem) !== token.caDigestHex) {
    throw new VxmeshError(
      'PERMISSION_DENIED',
      `the CA served by ${target} does not match the join token's digest; refusing to join`,
    );
  }

  const { keyPem, csrPem } = await generateKeyAndCsr();
  const pinned = new CertificateAuthorityClient(target, pinnedCaCredentials(caPem), clusterChannelOptions);
  try {
    const res = await callUnary(
      pinned.issueNodeCertificate.bind(pinned),
      {
        token: req.token,
        csrPem,
        hostname: req.hostname,
        advertiseAddr: req.advertiseAddr,
        dataPathAddr: req.dataPathAddr,
        availability: req.availability,
      },
      `join the cluster through ${target}`,
      opts,
    );
    return {
      nodeId: res.nodeId,
      clusterId: res.clusterId,
      role: res.role,
      identity: { caPem: res.rootCaPem, certPem: res.certificatePem, keyPem },
      managerAddrs: res.managerAddrs.length > 0 ? res.managerAddrs : [target],
      etcdEndpoints: res.etcdEndpoints,
    };
  } finally {
    pinned.close();
  }
}

/**
 * The local address the kernel would use to reach `remote`, found by connecting a UDP socket
 * (which sends nothing): what docker picks when --advertise-addr is not given.
 */
export async function localAddressToward(remote: HostPort): Promise<string> {
  const socket = createSocket(remote.host.includes(':') ? 'udp6' : 'udp4');
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.connect(remote.port, remote.host, () => resolve());
    });
    return socket.address().address;
  } finally {
    socket.close();
  }
}
