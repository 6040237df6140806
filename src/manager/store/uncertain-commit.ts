import { InvalidArgumentError, VxmeshError } from '../../common/errors.js';
import type { CallOptions, KvStore, TxnRequest, TxnResult } from '../../kvstore/index.js';

/**
 * A transaction failed in a way that leaves its outcome unknown: the store did not answer, and
 * etcd may still have applied it. Whatever it would have used (addresses, VIPs) must stay
 * allocated: giving it back while the record may exist is how an address gets two holders
 * (moby/moby#33795). A leak is the price; a duplicate never is.
 */
export class UncertainCommitError extends VxmeshError {
  constructor(readonly error: Error) {
    super(error instanceof VxmeshError ? error.code : 'UNAVAILABLE', error.message, { cause: error });
  }
}

/**
 * `store.txn`, with every failure that may have left the transaction applied turned into an
 * {@link UncertainCommitError}; a request refused before it was sent stays as it was.
 */
export async function txnOrUncertain(store: KvStore, req: TxnRequest, opts?: CallOptions): Promise<TxnResult> {
  try {
    return await store.txn(req, opts);
  } catch (err) {
    if (err instanceof InvalidArgumentError || !(err instanceof Error)) {
      throw err;
    }
    throw new UncertainCommitError(err);
  }
}
