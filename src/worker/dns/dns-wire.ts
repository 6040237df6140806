import ipaddr from 'ipaddr.js';

/**
 * DNS wire-format constants and the few encoders the resolver needs (RFC 1035, 3596, 2782, 6891).
 * Everything here is pure and allocation-light; the hot path uses the constants only.
 */

/** Record types the resolver knows by number. */
export const RrType = {
  A: 1,
  NS: 2,
  CNAME: 5,
  SOA: 6,
  PTR: 12,
  MX: 15,
  TXT: 16,
  AAAA: 28,
  SRV: 33,
  OPT: 41,
  IXFR: 251,
  AXFR: 252,
  ANY: 255,
} as const;

/** Response codes (the 4 header bits; BADVERS is extended, see {@link EXT_RCODE_BADVERS}). */
export const Rcode = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
} as const;
export type RcodeValue = (typeof Rcode)[keyof typeof Rcode];

/** BADVERS (16) is carried as 1 in the OPT record's extended-rcode byte, 0 in the header. */
export const EXT_RCODE_BADVERS = 1;

export const CLASS_IN = 1;
export const HEADER_BYTES = 12;
/** UDP payload a client without EDNS accepts. */
export const PLAIN_UDP_LIMIT = 512;
/** UDP payload size this resolver advertises in its OPT records (the DNS flag day 2020 value). */
export const ADVERTISED_UDP_SIZE = 1232;
/** Largest DNS message (TCP length prefix is 16 bits). */
export const MAX_MESSAGE_BYTES = 65_535;
/** Longest domain name in wire format. */
export const MAX_NAME_WIRE_BYTES = 255;
export const MAX_LABEL_BYTES = 63;

/** Header byte 2 bits. */
export const FLAG_QR = 0x80;
export const FLAG_AA = 0x04;
export const FLAG_TC = 0x02;
export const FLAG_RD = 0x01;
export const OPCODE_MASK = 0x78;
/** Header byte 3 bit. */
export const FLAG_RA = 0x80;

/** Bytes of the answer-name pointer to the question name at offset 12 (0xc00c). */
const POINTER_TO_QUESTION = 0xc00c;

/**
 * Encodes a dotted name (`a.b.c`, trailing dot optional) in wire format, lowercased.
 * @throws RangeError for an empty label, a label over 63 bytes or a name over 255 bytes.
 */
export function encodeName(name: string): Buffer {
  const trimmed = name.endsWith('.') ? name.slice(0, -1) : name;
  if (trimmed === '') {
    return Buffer.from([0]);
  }
  const labels = trimmed.toLowerCase().split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'latin1');
    if (bytes.length === 0 || bytes.length > MAX_LABEL_BYTES) {
      throw new RangeError(`invalid DNS label ${JSON.stringify(label)} in ${JSON.stringify(name)}`);
    }
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const out = Buffer.concat(parts);
  if (out.length > MAX_NAME_WIRE_BYTES) {
    throw new RangeError(`DNS name longer than ${MAX_NAME_WIRE_BYTES} bytes: ${name}`);
  }
  return out;
}

/**
 * The lowercased wire name as a latin1 string: the form the resolver uses as a map key, equal to
 * `msg.toString('latin1', 12, end).toLowerCase()` for the same name in a query.
 */
export function wireKey(name: string): string {
  return encodeName(name).toString('latin1');
}

/**
 * Decodes a wire-format name held as a latin1 key (no compression) to dotted form without the
 * trailing dot; the root is ''. Undefined when a label holds a '.' byte (the dotted form would
 * name something else). The key must come from a validated question.
 */
export function dottedName(key: string): string | undefined {
  const labels: string[] = [];
  let p = 0;
  // Each step consumes at least one byte, so the loop ends within key.length iterations.
  while (p < key.length) {
    const len = key.charCodeAt(p);
    if (len === 0) {
      break;
    }
    const label = key.slice(p + 1, p + 1 + len);
    if (label.includes('.')) {
      return undefined;
    }
    labels.push(label);
    p += len + 1;
  }
  return labels.join('.');
}

/** One resource record of an answer, before encoding. */
export type DnsRecord =
  | { readonly type: 'A'; readonly address: string }
  | { readonly type: 'AAAA'; readonly address: string }
  | { readonly type: 'PTR'; readonly target: string }
  | {
      readonly type: 'SRV';
      readonly priority: number;
      readonly weight: number;
      readonly port: number;
      readonly target: string;
    };

/**
 * Encodes one answer record whose owner name is the question name (a pointer to offset 12).
 * @throws RangeError for an address that is not a valid IPv4/IPv6 literal of the record's type.
 */
export function encodeAnswerRecord(record: DnsRecord, ttlSeconds: number): Buffer {
  let type: number;
  let rdata: Buffer;
  switch (record.type) {
    case 'A': {
      type = RrType.A;
      rdata = ipv4Bytes(record.address);
      break;
    }
    case 'AAAA': {
      type = RrType.AAAA;
      rdata = ipv6Bytes(record.address);
      break;
    }
    case 'PTR': {
      type = RrType.PTR;
      rdata = encodeName(record.target);
      break;
    }
    case 'SRV': {
      type = RrType.SRV;
      const target = encodeName(record.target);
      rdata = Buffer.alloc(6 + target.length);
      rdata.writeUInt16BE(record.priority, 0);
      rdata.writeUInt16BE(record.weight, 2);
      rdata.writeUInt16BE(record.port, 4);
      target.copy(rdata, 6);
      break;
    }
  }
  const rr = Buffer.alloc(12 + rdata.length);
  rr.writeUInt16BE(POINTER_TO_QUESTION, 0);
  rr.writeUInt16BE(type, 2);
  rr.writeUInt16BE(CLASS_IN, 4);
  rr.writeUInt32BE(ttlSeconds >>> 0, 6);
  rr.writeUInt16BE(rdata.length, 10);
  rdata.copy(rr, 12);
  return rr;
}

/** The OPT pseudo-record of a response: our UDP size, the extended rcode byte, version 0, no flags. */
export function encodeOptRecord(extendedRcode = 0): Buffer {
  const opt = Buffer.alloc(11);
  // opt[0] = 0: root owner name.
  opt.writeUInt16BE(RrType.OPT, 1);
  opt.writeUInt16BE(ADVERTISED_UDP_SIZE, 3);
  opt[5] = extendedRcode;
  // opt[6] version 0, opt[7..8] flags 0 (no DO: answers are never signed), opt[9..10] rdlength 0.
  return opt;
}

/** 4 bytes of a dotted-quad IPv4 address. @throws RangeError when it is not one. */
export function ipv4Bytes(address: string): Buffer {
  if (!ipaddr.IPv4.isValidFourPartDecimal(address)) {
    throw new RangeError(`not an IPv4 address: ${address}`);
  }
  return Buffer.from(ipaddr.IPv4.parse(address).toByteArray());
}

/** 16 bytes of an IPv6 address (zone IDs are refused). @throws RangeError when it is not one. */
export function ipv6Bytes(address: string): Buffer {
  if (address.includes('%') || !ipaddr.IPv6.isValid(address)) {
    throw new RangeError(`not an IPv6 address: ${address}`);
  }
  return Buffer.from(ipaddr.IPv6.parse(address).toByteArray());
}

/**
 * The reverse-lookup name of an address, lowercased, without the trailing dot:
 * `5.1.0.10.in-addr.arpa` or the 32-nibble `ip6.arpa` form.
 * @throws RangeError when `address` is not an IP literal.
 */
export function reverseName(address: string): string {
  if (address.includes(':')) {
    const hex = ipv6Bytes(address).toString('hex');
    return `${[...hex].reverse().join('.')}.ip6.arpa`;
  }
  return `${[...ipv4Bytes(address)].reverse().join('.')}.in-addr.arpa`;
}

/**
 * The address a reverse name stands for (inverse of {@link reverseName}), or undefined when the
 * name is not a complete `in-addr.arpa` / `ip6.arpa` address name.
 * IPv6 results are the 8 groups in full hex, joined with ':' (not compressed).
 */
export function addressOfReverseName(name: string): string | undefined {
  if (name.endsWith('.in-addr.arpa')) {
    const parts = name.slice(0, -'.in-addr.arpa'.length).split('.');
    if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
      return undefined;
    }
    return parts.reverse().map(Number).join('.');
  }
  if (name.endsWith('.ip6.arpa')) {
    const nibbles = name.slice(0, -'.ip6.arpa'.length).split('.');
    if (nibbles.length !== 32 || nibbles.some((n) => !/^[0-9a-f]$/.test(n))) {
      return undefined;
    }
    const hex = nibbles.reverse().join('');
    const groups: string[] = [];
    for (let i = 0; i < 32; i += 4) {
      groups.push(hex.slice(i, i + 4));
    }
    return groups.join(':');
  }
  return undefined;
}
