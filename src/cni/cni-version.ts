import { CNI_ERROR, CniError } from './cni-error.js';

/** Spec versions this plugin speaks, oldest first. */
export const SUPPORTED_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;

/** What `vxmesh network cni-config` writes. */
export const DEFAULT_CNI_VERSION = '1.0.0';

/** Negative, zero or positive as `a` is older than, equal to or newer than `b` (semver, numbers only). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map((n) => Number.parseInt(n, 10) || 0);
  const pb = b.split('.').map((n) => Number.parseInt(n, 10) || 0);
  for (let i = 0; i < 3; i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) {
      return d;
    }
  }
  return 0;
}

/**
 * Checks that `version` is one this plugin speaks and that `command` exists in it (CHECK since
 * 0.4.0, STATUS and GC since 1.1.0).
 * @throws CniError INCOMPATIBLE_VERSION otherwise.
 */
export function checkVersion(version: string, command: string): void {
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) {
    throw new CniError(
      CNI_ERROR.INCOMPATIBLE_VERSION,
      `CNI version ${JSON.stringify(version)} is not supported`,
      `supported: ${SUPPORTED_VERSIONS.join(', ')}`,
    );
  }
  const since = command === 'CHECK' ? '0.4.0' : command === 'STATUS' || command === 'GC' ? '1.1.0' : undefined;
  if (since && compareVersions(version, since) < 0) {
    throw new CniError(
      CNI_ERROR.INCOMPATIBLE_VERSION,
      `config version ${version} does not allow ${command}`,
      `needs ${since} or later`,
    );
  }
}
