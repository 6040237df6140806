import { VxmeshError } from '../common/errors.js';
import type { DataplaneDriver } from '../worker/dataplane-controller.js';

/** The kernel driver of this daemon. */
export function createKernelDriver(_namespacePrefix: string): DataplaneDriver {
  return {
    reconcile: () => Promise.reject(new VxmeshError('FAILED_PRECONDITION', 'the kernel overlay driver is not wired in yet')),
  };
}
