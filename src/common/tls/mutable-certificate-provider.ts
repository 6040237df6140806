import type { experimental } from '@grpc/grpc-js';

type CertificateProvider = experimental.CertificateProvider;
type CaListener = Parameters<CertificateProvider['addCaCertificateListener']>[0];
type IdentityListener = Parameters<CertificateProvider['addIdentityCertificateListener']>[0];

/** PEM material for one side of mutual TLS. */
export interface TlsIdentity {
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/**
 * Feeds grpc-js the current CA and node certificate, so a renewed certificate replaces the old
 * one on a running server without a restart.
 */
export class MutableCertificateProvider implements CertificateProvider {
  #identity: TlsIdentity;
  readonly #caListeners = new Set<CaListener>();
  readonly #identityListeners = new Set<IdentityListener>();

  constructor(identity: TlsIdentity) {
    this.#identity = identity;
  }

  get identity(): TlsIdentity {
    return this.#identity;
  }

  update(identity: TlsIdentity): void {
    this.#identity = identity;
    for (const l of this.#caListeners) {
      l({ caCertificate: Buffer.from(identity.caPem) });
    }
    for (const l of this.#identityListeners) {
      l({ certificate: Buffer.from(identity.certPem), privateKey: Buffer.from(identity.keyPem) });
    }
  }

  addCaCertificateListener(listener: CaListener): void {
    this.#caListeners.add(listener);
    // Deliver later: grpc-js subscribes before it registers the watcher that applies updates,
    // so an update delivered synchronously here would be lost and the server would drop every
    // connection as having no credentials.
    queueMicrotask(() => {
      if (this.#caListeners.has(listener)) {
        listener({ caCertificate: Buffer.from(this.#identity.caPem) });
      }
    });
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.#caListeners.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.add(listener);
    queueMicrotask(() => {
      if (this.#identityListeners.has(listener)) {
        listener({ certificate: Buffer.from(this.#identity.certPem), privateKey: Buffer.from(this.#identity.keyPem) });
      }
    });
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.#identityListeners.delete(listener);
  }
}
