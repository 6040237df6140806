import { join } from 'node:path';
import { RecordDirectory } from '../../common/fs/record-directory.js';
import { PendingDetach } from '../../gen/vxmesh/v1/container.js';

/**
 * Pending detaches under `<data-root>/pending-detaches/`, one protobuf file per endpoint. The
 * directory is fsynced after each save: once its owner is gone, the record is the only trace of
 * the endpoint left on the node.
 */
export class PendingDetachRecords extends RecordDirectory<PendingDetach> {
  constructor(dataRoot: string) {
    super({
      dir: join(dataRoot, 'pending-detaches'),
      what: 'pending detach',
      codec: PendingDetach,
      idField: 'endpoint ID',
      idOf: (r) => r.endpointId,
      // The managers' object IDs (base 36): nothing like "../".
      safeId: /^[a-zA-Z0-9_-]{1,100}$/,
      syncDirectory: true,
    });
  }
}
