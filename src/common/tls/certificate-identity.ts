import forge from 'node-forge';
import { InvalidArgumentError } from '../errors.js';
import { roleFromOu } from './node-role.js';
import type { NodeRole } from './node-role.js';

/** Who a node certificate says its holder is, and when it is valid. */
export interface CertificateIdentity {
  readonly nodeId: string;
  readonly role: NodeRole;
  readonly clusterId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly serial: string;
}

function field(cert: forge.pki.Certificate, shortName: string): string | undefined {
  const attr = cert.subject.getField(shortName) as { value?: unknown } | null;
  return typeof attr?.value === 'string' ? attr.value : undefined;
}

/**
 * Reads CN (node ID), OU (role) and O (cluster ID) from a node certificate.
 * @throws InvalidArgumentError when the certificate is not a vxmesh node certificate.
 */
export function certificateIdentity(certPem: string): CertificateIdentity {
  let cert: forge.pki.Certificate;
  try {
    cert = forge.pki.certificateFromPem(certPem);
  } catch (err) {
    throw new InvalidArgumentError('certificate', 'is not a PEM X.509 certificate', { cause: err });
  }
  const nodeId = field(cert, 'CN');
  const role = roleFromOu(field(cert, 'OU'));
  const clusterId = field(cert, 'O');
  if (!nodeId || !role || !clusterId) {
    throw new InvalidArgumentError('certificate', 'lacks the node ID (CN), role (OU) or cluster ID (O)');
  }
  return {
    nodeId,
    role,
    clusterId,
    notBefore: cert.validity.notBefore,
    notAfter: cert.validity.notAfter,
    serial: cert.serialNumber,
  };
}
