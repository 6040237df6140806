/**
 * Imported first by the entry point (ES modules evaluate in import order), before the logger
 * reads VXMESH_LOG: whatever a runtime finds on the plugin's stderr it shows as the failure
 * text, so only errors are logged unless the caller asks for more.
 */
process.env['VXMESH_LOG'] ??= 'error';
