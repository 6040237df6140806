import { randomBytes } from 'node:crypto';
import forge from 'node-forge';
import { InvalidArgumentError } from '../../common/errors.js';
import { generatePrivateKeyPem } from '../../common/tls/key-pair.js';
import { ROLE_OU } from '../../common/tls/node-role.js';
import type { NodeRole } from '../../common/tls/node-role.js';

/** The cluster's root CA. The key stays on managers; workers only ever see `certPem`. */
export interface RootCaMaterial {
  readonly certPem: string;
  readonly keyPem: string;
}

export const ROOT_CA_VALIDITY_MS = 20 * 365 * 24 * 3600 * 1000;
export const DEFAULT_NODE_CERT_VALIDITY_MS = 90 * 24 * 3600 * 1000;
export const MIN_NODE_CERT_VALIDITY_MS = 3600 * 1000;
/** Certificates start this far in the past so a node whose clock lags still accepts them. */
export const CERT_BACKDATE_MS = 3600 * 1000;

function serialNumber(): string {
  // Positive 128-bit serial: a leading 0x00..0x7f byte keeps the DER integer from reading as negative.
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

/** Creates a self-signed root CA named `vxmesh-ca` for the cluster. */
export async function createRootCa(clusterId: string, now: number): Promise<RootCaMaterial> {
  const keyPem = await generatePrivateKeyPem();
  const key = forge.pki.privateKeyFromPem(keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.rsa.setPublicKey(key.n, key.e);
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(now - CERT_BACKDATE_MS);
  cert.validity.notAfter = new Date(now + ROOT_CA_VALIDITY_MS);
  const subject = [
    { shortName: 'CN', value: 'vxmesh-ca' },
    { shortName: 'O', value: clusterId },
  ];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(key, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem };
}

export interface SignRequest {
  readonly csrPem: string;
  readonly nodeId: string;
  readonly role: NodeRole;
  readonly clusterId: string;
  readonly now: number;
  readonly validityMs: number;
}

/**
 * Signs a node certificate: CN = node ID, OU = role, O = cluster ID, usable for TLS client and
 * server auth, SANs naming the node ID and role (managers also `vxmesh-ca`, since any manager
 * serves the CA). Only the CSR's public key is used; its subject is ignored.
 * @throws InvalidArgumentError for a malformed or badly signed CSR, or a validity under 1 hour.
 */
export function signNodeCertificate(ca: RootCaMaterial, req: SignRequest): string {
  if (req.validityMs < MIN_NODE_CERT_VALIDITY_MS) {
    throw new InvalidArgumentError('cert-expiry', 'must be at least 1 hour');
  }
  let csr: forge.pki.CertificateSigningRequest;
  try {
    csr = forge.pki.certificationRequestFromPem(req.csrPem);
  } catch (err) {
    throw new InvalidArgumentError('csr', 'is not a PEM certificate signing request', { cause: err });
  }
  if (!csr.verify() || !csr.publicKey) {
    throw new InvalidArgumentError('csr', 'signature does not verify');
  }
  const caCert = forge.pki.certificateFromPem(ca.certPem);
  const caKey = forge.pki.privateKeyFromPem(ca.keyPem);
  const cert = forge.pki.createCertificate();
  cert.publicKey = csr.publicKey;
  cert.serialNumber = serialNumber();
  cert.validity.notBefore = new Date(req.now - CERT_BACKDATE_MS);
  cert.validity.notAfter = new Date(req.now + req.validityMs);
  cert.setSubject([
    { shortName: 'CN', value: req.nodeId },
    { shortName: 'OU', value: ROLE_OU[req.role] },
    { shortName: 'O', value: req.clusterId },
  ]);
  cert.setIssuer(caCert.subject.attributes);
  const altNames = [
    { type: 2, value: req.nodeId },
    { type: 2, value: ROLE_OU[req.role] },
    ...(req.role === 'manager' ? [{ type: 2, value: 'vxmesh-ca' }] : []),
  ];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true, clientAuth: true },
    { name: 'subjectAltName', altNames },
    { name: 'authorityKeyIdentifier', keyIdentifier: caCert.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKey, forge.md.sha256.create());
  return forge.pki.certificateToPem(cert);
}

/**
 * When to renew: a uniformly random point between 50% and 80% of the validity, so a fleet
 * issued at once does not renew at once.
 */
export function renewalTime(notBefore: number, notAfter: number, random: () => number): number {
  // notBefore is backdated; measure the lifetime from the real issue time.
  const issued = notBefore + CERT_BACKDATE_MS;
  const lifetime = notAfter - issued;
  return issued + lifetime * (0.5 + 0.3 * random());
}
