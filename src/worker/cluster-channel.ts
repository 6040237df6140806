import { credentials } from '@grpc/grpc-js';
import type { ChannelCredentials, ChannelOptions } from '@grpc/grpc-js';
import type { TlsIdentity } from '../common/tls/mutable-certificate-provider.js';

/**
 * Managers' certificates name their role, not their address (addresses change, IDs are not
 * known before dialing), so clients verify the chain against the cluster CA and check the name
 * `vxmesh-manager` that every manager certificate carries.
 */
export const MANAGER_TLS_NAME = 'vxmesh-manager';

export const clusterChannelOptions: ChannelOptions = {
  'grpc.ssl_target_name_override': MANAGER_TLS_NAME,
  'grpc.default_authority': MANAGER_TLS_NAME,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

/** Mutual TLS with this node's certificate, trusting only the cluster CA. */
export function mutualTlsCredentials(identity: TlsIdentity): ChannelCredentials {
  return credentials.createSsl(
    Buffer.from(identity.caPem),
    Buffer.from(identity.keyPem),
    Buffer.from(identity.certPem),
  );
}

/** TLS trusting only `caPem`, without a client certificate: for enrolling. */
export function pinnedCaCredentials(caPem: string): ChannelCredentials {
  return credentials.createSsl(Buffer.from(caPem));
}

/**
 * TLS that trusts nothing yet: used only to download the CA bundle, which the caller must check
 * against its join token's digest before using anything else from this connection.
 */
export function untrustedCredentials(): ChannelCredentials {
  return credentials.createSsl(null, null, null, { rejectUnauthorized: false });
}
