import {
  FLAG_QR,
  HEADER_BYTES,
  MAX_LABEL_BYTES,
  MAX_NAME_WIRE_BYTES,
  OPCODE_MASK,
  PLAIN_UDP_LIMIT,
  Rcode,
  RrType,
} from './dns-wire.js';
import type { RcodeValue } from './dns-wire.js';

/** Queries longer than this are refused with FORMERR (a question with EDNS fits in ~300 bytes). */
export const MAX_QUERY_BYTES = 4096;

/** A query that passed validation: one question, optional EDNS. */
export interface ParsedQuery {
  readonly kind: 'query';
  readonly id: number;
  /** Header byte 2 as received (RD is copied into the response). */
  readonly flags: number;
  /** The question name in wire format, lowercased, as a latin1 string: the cache and table key. */
  readonly key: string;
  readonly qtype: number;
  readonly qclass: number;
  /** Offset just past QTYPE/QCLASS: bytes [0, questionEnd) are copied into the response. */
  readonly questionEnd: number;
  /** Client's EDNS UDP payload size (at least 512); 0 when the query had no OPT record. */
  readonly ednsSize: number;
  /** EDNS version the client used; only 0 is supported (BADVERS otherwise). */
  readonly ednsVersion: number;
}

/** Why a message is not answered normally. `drop`: send nothing back. */
export type ParseFailure =
  | { readonly kind: 'drop' }
  | {
      readonly kind: 'error';
      readonly id: number;
      readonly flags: number;
      readonly rcode: RcodeValue;
    };

const DROP: ParseFailure = { kind: 'drop' };

/**
 * Validates a DNS query message and extracts what the resolver needs. Never throws and never
 * reads past `msg.length`; every loop is bounded by the message length.
 *
 * - shorter than a header, or a response (QR=1): dropped (never answer answers);
 * - opcode other than QUERY: NOTIMP;
 * - longer than {@link MAX_QUERY_BYTES}, QDCOUNT ≠ 1, answer/authority records, a compressed or
 *   overlong question name, a truncated question or additional section, two OPT records:
 *   FORMERR.
 */
export function parseQuery(msg: Buffer): ParsedQuery | ParseFailure {
  const len = msg.length;
  if (len < HEADER_BYTES) {
    return DROP;
  }
  const flags = msg[2] ?? 0;
  if ((flags & FLAG_QR) !== 0) {
    return DROP;
  }
  const id = msg.readUInt16BE(0);
  if ((flags & OPCODE_MASK) !== 0) {
    return { kind: 'error', id, flags, rcode: Rcode.NOTIMP };
  }
  const formerr: ParseFailure = { kind: 'error', id, flags, rcode: Rcode.FORMERR };
  if (len > MAX_QUERY_BYTES) {
    return formerr;
  }
  const qdcount = msg.readUInt16BE(4);
  const ancount = msg.readUInt16BE(6);
  const nscount = msg.readUInt16BE(8);
  const arcount = msg.readUInt16BE(10);
  if (qdcount !== 1 || ancount !== 0 || nscount !== 0) {
    return formerr;
  }
  const nameEnd = skipName(msg, HEADER_BYTES, false);
  if (nameEnd < 0 || nameEnd + 4 > len) {
    return formerr;
  }
  const key = msg.toString('latin1', HEADER_BYTES, nameEnd).toLowerCase();
  const qtype = msg.readUInt16BE(nameEnd);
  const qclass = msg.readUInt16BE(nameEnd + 2);
  const questionEnd = nameEnd + 4;
  if (qtype === RrType.OPT) {
    return formerr;
  }
  let ednsSize = 0;
  let ednsVersion = 0;
  let p = questionEnd;
  // At most `arcount` records, each at least 11 bytes: bounded by the message length too.
  for (let i = 0; i < arcount; i++) {
    const ownerRoot = msg[p] === 0;
    const afterName = skipName(msg, p, true);
    if (afterName < 0 || afterName + 10 > len) {
      return formerr;
    }
    const type = msg.readUInt16BE(afterName);
    const rdlength = msg.readUInt16BE(afterName + 8);
    const next = afterName + 10 + rdlength;
    if (next > len) {
      return formerr;
    }
    if (type === RrType.OPT) {
      if (ednsSize !== 0 || !ownerRoot) {
        return formerr;
      }
      ednsSize = Math.max(PLAIN_UDP_LIMIT, msg.readUInt16BE(afterName + 2));
      ednsVersion = msg[afterName + 5] ?? 0;
    }
    p = next;
  }
  return { kind: 'query', id, flags, key, qtype, qclass, questionEnd, ednsSize, ednsVersion };
}

/**
 * Offset just past the name starting at `start`, or -1 when it runs past the message, has a label
 * over 63 bytes or a name over 255 bytes, or uses compression where it is not allowed (the
 * question). A compression pointer ends the name (2 bytes) when `allowPointer` is set.
 */
function skipName(msg: Buffer, start: number, allowPointer: boolean): number {
  let p = start;
  // Each label advances p by at least 1 and the name is capped at 255 bytes: at most 128 steps.
  while (p < msg.length) {
    const len = msg[p] ?? 0;
    if (len === 0) {
      return p + 1 - start > MAX_NAME_WIRE_BYTES ? -1 : p + 1;
    }
    if ((len & 0xc0) === 0xc0) {
      return allowPointer && p + 2 <= msg.length ? p + 2 : -1;
    }
    if (len > MAX_LABEL_BYTES) {
      return -1;
    }
    p += len + 1;
    if (p - start > MAX_NAME_WIRE_BYTES) {
      return -1;
    }
  }
  return -1;
}
