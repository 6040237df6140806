import type { DataplaneReconciler } from '../../src/worker/dataplane-controller.js';
import type { NodeDataplaneSpec, ReconcileReport } from '../../src/vxlan/dataplane-spec.js';

/** A driver that programs nothing and remembers the last spec, for tests without a kernel. */
export class RecordingDriver implements DataplaneReconciler {
  last: NodeDataplaneSpec | undefined;
  passes = 0;

  reconcile(spec: NodeDataplaneSpec): Promise<ReconcileReport> {
    this.last = spec;
    this.passes++;
    return Promise.resolve({ commands: new Map(), removedNamespaces: [], errors: [] });
  }
}
