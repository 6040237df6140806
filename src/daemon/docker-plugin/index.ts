export { DockerPluginServer } from './docker-plugin-server.js';
export type { DockerPluginServerOptions } from './docker-plugin-server.js';
export type { DockerPluginBackend } from './docker-plugin-backend.js';
export { DaemonDockerPluginBackend } from './docker-plugin-daemon-backend.js';
export { formatPoolId, parsePoolId } from './docker-ipam-driver.js';
export type { PoolId } from './docker-ipam-driver.js';
