import type { Authorize } from '../common/rpc/server-handlers.js';

/** The local socket is root-only (file mode 0600), so whoever reaches it is root on this host. */
export const localAuthorize: Authorize = () => Promise.resolve({ kind: 'local' });
