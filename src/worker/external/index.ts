export { ExternalEndpoints } from './external-endpoints.js';
export type {
  AllocateRequest,
  AttachRequest,
  CheckRequest,
  ExternalEndpointsDeps,
  PlugRequest,
} from './external-endpoints.js';
export { NamespaceControl } from './namespace-control.js';
export { cniAttachmentId, dockerAttachmentId, boundNamespacePrefix, namespaceGroupId } from './attachment-id.js';
export type { AdoptedNamespace, ExternalNamespaceDriver, ObservedInterface } from './namespace-driver.js';
export { LinuxExternalNamespaceDriver } from './namespace-driver-linux.js';
export { FakeExternalNamespaceDriver } from './namespace-driver-fake.js';
export { endpointsOwnedBy } from './owned-endpoints.js';
