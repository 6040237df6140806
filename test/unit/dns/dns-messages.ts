/**
 * Test-side DNS message builder and decoder, written independently of src/worker/dns so the
 * resolver's encoder is checked against a second implementation.
 */

export interface QueryOptions {
  readonly id?: number;
  /** EDNS UDP size; absent: no OPT record. */
  readonly edns?: number;
  readonly ednsVersion?: number;
  readonly rd?: boolean;
  readonly qclass?: number;
  readonly opcode?: number;
}

export const T = { A: 1, PTR: 12, MX: 15, TXT: 16, AAAA: 28, SRV: 33, ANY: 255, AXFR: 252 } as const;

function encodeName(name: string): Buffer {
  const parts: Buffer[] = [];
  for (const label of name.replace(/\.$/, '').split('.')) {
    if (label !== '') {
      parts.push(Buffer.from([label.length]), Buffer.from(label, 'latin1'));
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

export function buildQuery(name: string, qtype: number, opts: QueryOptions = {}): Buffer {
  const header = Buffer.alloc(12);
  header.writeUInt16BE(opts.id ?? 0x1234, 0);
  header[2] = ((opts.opcode ?? 0) << 3) | (opts.rd === false ? 0 : 1);
  header.writeUInt16BE(1, 4);
  header.writeUInt16BE(opts.edns === undefined ? 0 : 1, 10);
  const q = Buffer.alloc(4);
  q.writeUInt16BE(qtype, 0);
  q.writeUInt16BE(opts.qclass ?? 1, 2);
  const parts = [header, encodeName(name), q];
  if (opts.edns !== undefined) {
    const opt = Buffer.alloc(11);
    opt.writeUInt16BE(41, 1);
    opt.writeUInt16BE(opts.edns, 3);
    opt[6] = opts.ednsVersion ?? 0;
    parts.push(opt);
  }
  return Buffer.concat(parts);
}

export interface DecodedRecord {
  readonly name: string;
  readonly type: number;
  readonly ttl: number;
  /** A/AAAA: address text; PTR: name; SRV: "prio weight port target"; other: hex. */
  readonly data: string;
}

export interface DecodedResponse {
  readonly id: number;
  readonly qr: boolean;
  readonly aa: boolean;
  readonly tc: boolean;
  readonly rd: boolean;
  readonly ra: boolean;
  readonly rcode: number;
  readonly question: { readonly name: string; readonly type: number } | undefined;
  readonly answers: readonly DecodedRecord[];
  /** The OPT record's [udpSize, extendedRcode], if present. */
  readonly opt: readonly [number, number] | undefined;
}

function readName(msg: Buffer, start: number): [string, number] {
  const labels: string[] = [];
  let p = start;
  let end = -1;
  for (let hops = 0; hops < 128; hops++) {
    const len = msg[p];
    if (len === undefined) {
      throw new Error('name past end');
    }
    if (len === 0) {
      return [labels.join('.'), end < 0 ? p + 1 : end];
    }
    if ((len & 0xc0) === 0xc0) {
      if (end < 0) {
        end = p + 2;
      }
      p = msg.readUInt16BE(p) & 0x3fff;
      continue;
    }
    labels.push(msg.toString('latin1', p + 1, p + 1 + len));
    p += len + 1;
  }
  throw new Error('name loop');
}

/** Decodes a response; throws on anything malformed. */
export function decodeResponse(msg: Buffer): DecodedResponse {
  const qd = msg.readUInt16BE(4);
  const an = msg.readUInt16BE(6);
  const ns = msg.readUInt16BE(8);
  const ar = msg.readUInt16BE(10);
  let p = 12;
  let question: DecodedResponse['question'];
  for (let i = 0; i < qd; i++) {
    const [name, next] = readName(msg, p);
    question = { name, type: msg.readUInt16BE(next) };
    p = next + 4;
  }
  const answers: DecodedRecord[] = [];
  let opt: readonly [number, number] | undefined;
  for (let i = 0; i < an + ns + ar; i++) {
    const [name, next] = readName(msg, p);
    const type = msg.readUInt16BE(next);
    const klass = msg.readUInt16BE(next + 2);
    const ttl = msg.readUInt32BE(next + 4);
    const rdlen = msg.readUInt16BE(next + 8);
    const rd = next + 10;
    if (rd + rdlen > msg.length) {
      throw new Error('rdata past end');
    }
    let data: string;
    if (type === T.A) {
      data = [...msg.subarray(rd, rd + 4)].join('.');
    } else if (type === T.AAAA) {
      const groups: string[] = [];
      for (let g = 0; g < 8; g++) {
        groups.push(msg.readUInt16BE(rd + g * 2).toString(16));
      }
      data = groups.join(':');
    } else if (type === T.PTR) {
      data = readName(msg, rd)[0];
    } else if (type === T.SRV) {
      data = `${msg.readUInt16BE(rd)} ${msg.readUInt16BE(rd + 2)} ${msg.readUInt16BE(rd + 4)} ${readName(msg, rd + 6)[0]}`;
    } else {
      data = msg.toString('hex', rd, rd + rdlen);
    }
    if (type === 41) {
      opt = [klass, (ttl >>> 24) & 0xff];
    } else if (i < an) {
      answers.push({ name, type, ttl, data });
    }
    p = rd + rdlen;
  }
  if (p !== msg.length) {
    throw new Error(`trailing bytes: ${msg.length - p}`);
  }
  const f = msg[2] ?? 0;
  const g = msg[3] ?? 0;
  return {
    id: msg.readUInt16BE(0),
    qr: (f & 0x80) !== 0,
    aa: (f & 0x04) !== 0,
    tc: (f & 0x02) !== 0,
    rd: (f & 0x01) !== 0,
    ra: (g & 0x80) !== 0,
    rcode: g & 0x0f,
    question,
    answers,
    opt,
  };
}

