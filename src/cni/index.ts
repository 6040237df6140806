export { runCniPlugin } from './cni-plugin.js';
export type { CniInvocation, CniOutcome } from './cni-plugin.js';
export { DEFAULT_DAEMON_SOCKET, parseCniConfig } from './cni-config.js';
export type { VxmeshCniConfig } from './cni-config.js';
export { CNI_ERROR, CniError } from './cni-error.js';
export { DEFAULT_CNI_VERSION, SUPPORTED_VERSIONS } from './cni-version.js';
export { cniConflist, CNI_PLUGIN_TYPE } from './cni-conflist.js';
export type { CniConflistOptions } from './cni-conflist.js';
export type { CniDaemon, CniDaemonConnector } from './cni-daemon.js';
