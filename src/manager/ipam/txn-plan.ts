import { InvalidArgumentError } from '../../common/errors.js';
import type { Compare, TxnOp } from '../../kvstore/index.js';

/** etcd's default `--max-txn-ops`, per list; the embedded store enforces the same. */
export const MAX_TXN_OPS = 128;

/**
 * Compares and writes gathered from several planners (network record, subnet claims, VNIs,
 * address bitmaps) so they commit as one compare-and-swap transaction.
 */
export class TxnPlan {
  readonly compares: Compare[] = [];
  readonly ops: TxnOp[] = [];

  compare(...c: Compare[]): this {
    this.compares.push(...c);
    return this;
  }

  op(...o: TxnOp[]): this {
    this.ops.push(...o);
    return this;
  }

  /** Appends another plan's compares and ops. */
  merge(other: { readonly compares: readonly Compare[]; readonly ops: readonly TxnOp[] }): this {
    this.compares.push(...other.compares);
    this.ops.push(...other.ops);
    return this;
  }

  /**
   * Refuses a plan the store would refuse, before anything is sent, with a message that says
   * which input made it large.
   * @throws InvalidArgumentError naming `field`.
   */
  checkSize(field: string, what: string): void {
    if (this.compares.length > MAX_TXN_OPS || this.ops.length > MAX_TXN_OPS) {
      throw new InvalidArgumentError(
        field,
        `${what} needs ${Math.max(this.compares.length, this.ops.length)} store operations in one ` +
          `transaction (limit ${MAX_TXN_OPS})`,
      );
    }
  }
}
