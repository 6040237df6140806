import { join } from 'node:path';
import { RecordDirectory } from '../../common/fs/record-directory.js';
import { NamespaceAttachment } from '../../gen/vxmesh/v1/control.js';

/** Namespace attachments under `<data-root>/external/`, one protobuf file each. */
export class AttachmentRecords extends RecordDirectory<NamespaceAttachment> {
  constructor(dataRoot: string) {
    super({
      dir: join(dataRoot, 'external'),
      what: 'attachment',
      codec: NamespaceAttachment,
      idField: 'attachment ID',
      idOf: (r) => r.id,
      // The characters attachment-id.ts produces.
      safeId: /^[a-z0-9-]{1,100}$/,
    });
  }
}
