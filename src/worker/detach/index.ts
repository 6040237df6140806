export { PendingDetaches, DEFAULT_ORPHAN_GRACE_MS, DEFAULT_ORPHAN_SCAN_MS } from './pending-detaches.js';
export type { PendingDetachesDeps } from './pending-detaches.js';
export { PendingDetachRecords } from './pending-detach-records.js';
export { detachRetryDelayMs, DETACH_RETRY_BASE_MS, DETACH_RETRY_MAX_MS } from './detach-backoff.js';
export { unownedEndpoints } from './unowned-endpoints.js';
export type { EndpointRelease, EndpointReleaseOrigin, ReleaseEndpoint, ReleaseOutcome } from './endpoint-release.js';
