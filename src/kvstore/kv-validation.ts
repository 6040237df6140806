import { InvalidArgumentError } from '../common/errors.js';
import { MAX_REQUEST_BYTES } from './kv-store.js';
import type { KvBytes, TxnOp, TxnRequest } from './kv-store.js';

const encoder = new TextEncoder();

/** Encodes a value to bytes once, so size checks and writes see the same bytes. */
export function toBytes(value: KvBytes): Uint8Array {
  return typeof value === 'string' ? encoder.encode(value) : value;
}

/** Rejects an empty key; `field` names where it came from so the error points at it. */
export function checkKey(key: string, field = 'key'): void {
  if (key.length === 0) {
    throw new InvalidArgumentError(field, 'must not be empty');
  }
}

/** Rejects a request whose keys and values add up past the store's request limit. */
export function checkRequestSize(bytes: number, field = 'value'): void {
  if (bytes > MAX_REQUEST_BYTES) {
    throw new InvalidArgumentError(
      field,
      `request of ${bytes} bytes exceeds the store limit of ${MAX_REQUEST_BYTES} bytes`,
    );
  }
}

/** Validates a single put before anything is sent. */
export function checkPut(key: string, value: Uint8Array): void {
  checkKey(key);
  checkRequestSize(Buffer.byteLength(key) + value.byteLength);
}

function opBytes(op: TxnOp): number {
  switch (op.type) {
    case 'put': {
      return Buffer.byteLength(op.key) + toBytes(op.value).byteLength;
    }
    case 'deletePrefix': {
      return Buffer.byteLength(op.prefix);
    }
    default: {
      return Buffer.byteLength(op.key);
    }
  }
}

/** Validates every key and the total size of a transaction before anything is sent. */
export function checkTxn(req: TxnRequest): void {
  let total = 0;
  req.compare.forEach((c, i) => {
    checkKey(c.key, `compare[${i}].key`);
    total += Buffer.byteLength(c.key) + (c.target === 'value' ? toBytes(c.value).byteLength : 8);
  });
  const branches: [string, readonly TxnOp[]][] = [
    ['success', req.success],
    ['failure', req.failure ?? []],
  ];
  for (const [branch, ops] of branches) {
    ops.forEach((op, i) => {
      checkKey(op.type === 'deletePrefix' ? op.prefix : op.key, `${branch}[${i}].key`);
      total += opBytes(op);
    });
  }
  checkRequestSize(total, 'txn');
}

/** Validates a lease TTL: a whole number of seconds, at least 1. */
export function checkTtl(ttlSeconds: number): void {
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > 9_000_000_000) {
    throw new InvalidArgumentError('ttl', `${ttlSeconds} is not a whole number of seconds >= 1`);
  }
}

/** The smallest key greater than every key starting with `prefix` (etcd's range_end). */
export function prefixEnd(prefix: string): Buffer {
  const bytes = Buffer.from(prefix);
  for (let i = bytes.length - 1; i >= 0; i--) {
    const b = bytes[i];
    if (b !== undefined && b < 0xff) {
      const end = Buffer.from(bytes.subarray(0, i + 1));
      end[i] = b + 1;
      return end;
    }
  }
  // Every byte is 0xff (or the prefix is empty): the range runs to the end of the key space.
  return Buffer.from([0]);
}
