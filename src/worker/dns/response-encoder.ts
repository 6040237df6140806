import {
  EXT_RCODE_BADVERS,
  FLAG_AA,
  FLAG_QR,
  FLAG_RA,
  FLAG_RD,
  FLAG_TC,
  HEADER_BYTES,
  OPCODE_MASK,
  encodeOptRecord,
} from './dns-wire.js';
import type { RcodeValue } from './dns-wire.js';
import type { ParsedQuery } from './query-parser.js';

const OPT_RECORD = encodeOptRecord();
const OPT_BADVERS = encodeOptRecord(EXT_RCODE_BADVERS);

/** How a local response is flagged. */
export interface ResponseFlags {
  readonly rcode: RcodeValue;
  /** AA: answered from the cluster records. */
  readonly authoritative: boolean;
  /** RA: the asker's queries may be forwarded. */
  readonly recursionAvailable: boolean;
}

/**
 * Builds a response to `msg` (already parsed as `q`): header with the query's ID and RD bit, the
 * question copied byte for byte (so the client's letter case survives), the answer records, and
 * an OPT record when the query had one. Records that do not fit in `limit` bytes are left out and
 * TC is set. With `shuffle`, the records are written in a random order (`random` in [0, 1)).
 * Every record must be a complete RR whose owner name points at offset 12.
 */
export function encodeResponse(
  msg: Buffer,
  q: ParsedQuery,
  flags: ResponseFlags,
  records: readonly Buffer[],
  shuffle: boolean,
  limit: number,
  random: () => number,
): Buffer {
  const opt = q.ednsSize > 0 ? OPT_RECORD : undefined;
  const fixed = q.questionEnd + (opt ? opt.length : 0);
  const order = shuffle && records.length > 1 ? shuffledIndexes(records.length, random) : undefined;
  let count = records.length;
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const next = bytes + (records[order ? (order[i] ?? 0) : i]?.length ?? 0);
    if (fixed + next > limit) {
      count = i;
      break;
    }
    bytes = next;
  }
  const out = Buffer.allocUnsafe(fixed + bytes);
  msg.copy(out, 0, 0, q.questionEnd);
  out[2] = FLAG_QR | (flags.authoritative ? FLAG_AA : 0) | (count < records.length ? FLAG_TC : 0) | (q.flags & FLAG_RD);
  out[3] = (flags.recursionAvailable ? FLAG_RA : 0) | flags.rcode;
  out.writeUInt16BE(1, 4);
  out.writeUInt16BE(count, 6);
  out.writeUInt16BE(0, 8);
  out.writeUInt16BE(opt ? 1 : 0, 10);
  let p = q.questionEnd;
  for (let i = 0; i < count; i++) {
    const rr = records[order ? (order[i] ?? 0) : i];
    if (rr) {
      p += rr.copy(out, p);
    }
  }
  if (opt) {
    opt.copy(out, p);
  }
  return out;
}

/**
 * A response carrying only an rcode, with the question copied (and OPT when the query had one):
 * SERVFAIL, REFUSED, NOTIMP, or BADVERS (`rcode` 'BADVERS': header rcode 0, extended rcode in OPT).
 */
export function encodeRcodeResponse(
  msg: Buffer,
  q: ParsedQuery,
  rcode: RcodeValue | 'BADVERS',
  recursionAvailable: boolean,
): Buffer {
  const opt = rcode === 'BADVERS' ? OPT_BADVERS : q.ednsSize > 0 ? OPT_RECORD : undefined;
  const out = Buffer.allocUnsafe(q.questionEnd + (opt ? opt.length : 0));
  msg.copy(out, 0, 0, q.questionEnd);
  out[2] = FLAG_QR | (q.flags & FLAG_RD);
  out[3] = (recursionAvailable ? FLAG_RA : 0) | (rcode === 'BADVERS' ? 0 : rcode);
  out.writeUInt16BE(1, 4);
  out.writeUInt32BE(0, 6);
  out.writeUInt16BE(opt ? 1 : 0, 10);
  if (opt) {
    opt.copy(out, q.questionEnd);
  }
  return out;
}

/** A bare 12-byte header response (no question): for queries whose question could not be read. */
export function encodeHeaderOnlyResponse(id: number, queryFlags: number, rcode: RcodeValue): Buffer {
  const out = Buffer.alloc(HEADER_BYTES);
  out.writeUInt16BE(id, 0);
  out[2] = FLAG_QR | (queryFlags & (OPCODE_MASK | FLAG_RD));
  out[3] = rcode;
  return out;
}

/** A random permutation of 0..n-1 (Fisher–Yates). */
function shuffledIndexes(n: number, random: () => number): number[] {
  const order = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    order[i] = i;
  }
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const t = order[i] ?? i;
    order[i] = order[j] ?? j;
    order[j] = t;
  }
  return order;
}
