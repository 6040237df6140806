/**
 * Imported first by bench/dispatcher.ts: quiets the manager's per-session info logs (thousands of
 * lines at N = 1,000, written synchronously to stderr) before src/common/logger.ts reads the level.
 * ES modules evaluate their imports in order, so this runs before any module that logs is loaded.
 * VXMESH_LOG set by the caller wins.
 */
process.env['VXMESH_LOG'] ??= 'warn';

export const benchLogLevel = process.env['VXMESH_LOG'];
