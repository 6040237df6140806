export * from './errors.js';
export * from './clock.js';
export { createLogger } from './logger.js';
export type { Logger } from './logger.js';
