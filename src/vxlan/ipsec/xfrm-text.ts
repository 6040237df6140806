/**
 * Parsers of `ip -s xfrm state` and `ip xfrm policy`. iproute2 has no JSON output for xfrm
 * (`ip -j xfrm …` prints the text format), so the text is parsed: one block per object, starting
 * at an unindented `src` line. Only fields the IPsec stage needs are taken; anything else is
 * ignored, so a newer iproute2 adding lines does not break the read.
 */
import { canonicalIp, canonicalPrefix } from '../ip-text.js';

/** One XFRM state (SA). */
export interface XfrmState {
  readonly src: string;
  readonly dst: string;
  /** "esp", "ah", "comp", … */
  readonly proto: string;
  readonly spi: number;
  readonly reqid: number;
  readonly mode: string;
  /** The AEAD, when the SA uses one: name, key as printed (`0x…`, lower case) and ICV length. */
  readonly aead?: { readonly name: string; readonly key: string; readonly icvBits: number };
  /** Effective anti-replay window (the ESN context's when there is one); 0: no anti-replay. */
  readonly replayWindow: number;
  readonly esn: boolean;
  /** Lifetime counters (`ip -s` only). */
  readonly bytes?: number;
  readonly packets?: number;
  /** Inbound packets dropped as replays, and failing the ICV check (`ip -s` only). */
  readonly replayDropped?: number;
  readonly integrityFailed?: number;
}

/** One XFRM policy. */
export interface XfrmPolicy {
  /** Selector, canonical CIDR. */
  readonly src: string;
  readonly dst: string;
  /** IP protocol number of the selector, undefined for any. */
  readonly proto?: number;
  readonly dport?: number;
  /** "in", "out", "fwd" (or a number for socket policies). */
  readonly dir: string;
  readonly priority: number;
  readonly action: 'allow' | 'block';
  readonly mark?: { readonly value: number; readonly mask: number };
  /** The first template, if any. */
  readonly tmpl?: {
    readonly src: string;
    readonly dst: string;
    readonly proto: string;
    /** Undefined or 0: any SPI. */
    readonly spi?: number;
    readonly reqid: number;
    readonly mode: string;
  };
}

const PROTOCOL_NUMBERS: Readonly<Record<string, number>> = {
  udp: 17,
  tcp: 6,
  icmp: 1,
  esp: 50,
  ah: 51,
  comp: 108,
  ipv6_icmp: 58,
  'ipv6-icmp': 58,
};

function protocolNumber(text: string): number | undefined {
  const n = PROTOCOL_NUMBERS[text];
  if (n !== undefined) {
    return n;
  }
  return /^\d+$/.test(text) ? Number(text) : undefined;
}

function protocolName(text: string): string {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    const name = Object.entries(PROTOCOL_NUMBERS).find(([, v]) => v === n)?.[0];
    return name ?? text;
  }
  return text;
}

/** Splits the output into blocks, one per object: an unindented line starts a block. */
function blocks(text: string): string[][] {
  const out: string[][] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      continue;
    }
    if (!/^\s/.test(line)) {
      out.push([line]);
    } else {
      out[out.length - 1]?.push(line);
    }
  }
  return out;
}

/** The word after `key` in `words`, if any. */
function after(words: readonly string[], key: string, from = 0): string | undefined {
  const i = words.indexOf(key, from);
  return i >= 0 ? words[i + 1] : undefined;
}

/** A number as ip prints it: decimal, hex `0x…`, optionally followed by `(…)`. */
function numberOf(text: string | undefined): number | undefined {
  if (text === undefined) {
    return undefined;
  }
  const m = /^(0x[0-9a-fA-F]+|\d+)/.exec(text);
  if (!m?.[1]) {
    return undefined;
  }
  return m[1].startsWith('0x') ? Number.parseInt(m[1].slice(2), 16) : Number(m[1]);
}

/** Parses `ip [-s] xfrm state [list]`. */
export function parseXfrmStates(text: string): XfrmState[] {
  const out: XfrmState[] = [];
  for (const lines of blocks(text)) {
    const head = lines[0]?.trim().split(/\s+/) ?? [];
    if (head[0] !== 'src') {
      continue;
    }
    const src = after(head, 'src');
    const dst = after(head, 'dst');
    let proto: string | undefined;
    let spi: number | undefined;
    let reqid = 0;
    let mode = '';
    let aead: XfrmState['aead'];
    let replayWindow = 0;
    let esnWindow: number | undefined;
    let esn = false;
    let bytes: number | undefined;
    let packets: number | undefined;
    let replayDropped: number | undefined;
    let integrityFailed: number | undefined;
    for (let i = 1; i < lines.length; i++) {
      const line = (lines[i] ?? '').trim();
      const words = line.split(/\s+/);
      if (words[0] === 'proto' && proto === undefined) {
        proto = words[1];
        spi = numberOf(after(words, 'spi'));
        reqid = numberOf(after(words, 'reqid')) ?? 0;
        mode = after(words, 'mode') ?? '';
      } else if (
        words[0] === 'replay-window' &&
        words.includes('flag') === false &&
        line.includes('replay ') &&
        line.includes('failed')
      ) {
        // `stats:` line: "replay-window N replay N failed N".
        replayDropped = numberOf(after(words, 'replay'));
        integrityFailed = numberOf(after(words, 'failed'));
      } else if (words[0] === 'replay-window') {
        replayWindow = numberOf(words[1]) ?? 0;
        esn ||= words.includes('esn');
      } else if (words[0] === 'flag') {
        esn ||= words.includes('esn');
      } else if (words[0] === 'aead') {
        // `aead rfc4106(gcm(aes)) 0x<key> (160 bits) 128`: the key length in parentheses is optional.
        const rest = line
          .slice(line.indexOf(words[1] ?? '') + (words[1] ?? '').length)
          .replace(/\([^)]*\)/g, ' ')
          .trim()
          .split(/\s+/);
        aead = { name: words[1] ?? '', key: (rest[0] ?? '').toLowerCase(), icvBits: numberOf(rest[1]) ?? 0 };
      } else if (line.startsWith('replay_window ')) {
        esnWindow = numberOf(words[1]?.replace(/,$/, ''));
      } else if (/\(bytes\),/.test(line) && /\(packets\)/.test(line)) {
        const m = /(\d+)\(bytes\),\s*(\d+)\(packets\)/.exec(line);
        if (m?.[1] && m[2]) {
          bytes = Number(m[1]);
          packets = Number(m[2]);
        }
      }
    }
    if (src === undefined || dst === undefined || proto === undefined || spi === undefined) {
      continue;
    }
    out.push({
      src: canonicalIp(src),
      dst: canonicalIp(dst),
      proto: protocolName(proto),
      spi,
      reqid,
      mode,
      ...(aead === undefined ? {} : { aead }),
      replayWindow: esnWindow ?? replayWindow,
      esn,
      ...(bytes === undefined ? {} : { bytes }),
      ...(packets === undefined ? {} : { packets }),
      ...(replayDropped === undefined ? {} : { replayDropped }),
      ...(integrityFailed === undefined ? {} : { integrityFailed }),
    });
  }
  return out;
}

/** Parses `ip xfrm policy [list]`. */
export function parsePolicies(text: string): XfrmPolicy[] {
  const out: XfrmPolicy[] = [];
  for (const lines of blocks(text)) {
    const head = lines[0]?.trim().split(/\s+/) ?? [];
    if (head[0] !== 'src') {
      continue;
    }
    const src = after(head, 'src');
    const dst = after(head, 'dst');
    const protoText = after(head, 'proto');
    const dport = numberOf(after(head, 'dport'));
    let dir = '';
    let priority = 0;
    let action: 'allow' | 'block' = 'allow';
    let mark: XfrmPolicy['mark'];
    let tmpl: { src: string; dst: string; proto: string; spi?: number; reqid: number; mode: string } | undefined;
    let inTmpl = false;
    for (let i = 1; i < lines.length; i++) {
      const words = (lines[i] ?? '').trim().split(/\s+/);
      if (words[0] === 'dir') {
        dir = words[1] ?? '';
        priority = numberOf(after(words, 'priority')) ?? 0;
        action = after(words, 'action') === 'block' ? 'block' : 'allow';
      } else if (words[0] === 'mark') {
        const [value, mask] = (words[1] ?? '').split('/');
        mark = { value: numberOf(value) ?? 0, mask: mask === undefined ? 0xffffffff : (numberOf(mask) ?? 0) };
      } else if (words[0] === 'tmpl' && tmpl === undefined) {
        inTmpl = true;
        tmpl = {
          src: canonicalIp(after(words, 'src') ?? ''),
          dst: canonicalIp(after(words, 'dst') ?? ''),
          proto: '',
          reqid: 0,
          mode: '',
        };
      } else if (words[0] === 'proto' && inTmpl && tmpl !== undefined && tmpl.proto === '') {
        tmpl.proto = protocolName(words[1] ?? '');
        const spi = numberOf(after(words, 'spi'));
        if (spi !== undefined) {
          tmpl.spi = spi;
        }
        tmpl.reqid = numberOf(after(words, 'reqid')) ?? 0;
        tmpl.mode = after(words, 'mode') ?? '';
        inTmpl = false;
      }
    }
    if (src === undefined || dst === undefined) {
      continue;
    }
    const proto = protoText === undefined ? undefined : protocolNumber(protoText);
    out.push({
      src: canonicalPrefix(src),
      dst: canonicalPrefix(dst),
      ...(proto === undefined ? {} : { proto }),
      ...(dport === undefined ? {} : { dport }),
      dir,
      priority,
      action,
      ...(mark === undefined ? {} : { mark }),
      ...(tmpl === undefined ? {} : { tmpl }),
    });
  }
  return out;
}
