import type { AskerContext, CachedAnswer } from './asker-context.js';
import type { DnsCounters } from './dns-counters.js';
import {
  CLASS_IN,
  MAX_MESSAGE_BYTES,
  PLAIN_UDP_LIMIT,
  Rcode,
  RrType,
  dottedName,
  encodeAnswerRecord,
} from './dns-wire.js';
import { resolveQuestion } from './name-resolution.js';
import { parseQuery } from './query-parser.js';
import type { ParsedQuery } from './query-parser.js';
import { encodeHeaderOnlyResponse, encodeRcodeResponse, encodeResponse } from './response-encoder.js';

/** How the query arrived: bounds the response size (UDP: 512 or the client's EDNS size). */
export type QueryTransport = 'udp' | 'tcp';

/** The query must go upstream; the caller does the I/O and answers with the upstream's reply. */
export interface ForwardRequest {
  readonly kind: 'forward';
  readonly query: ParsedQuery;
  readonly upstreams: readonly string[];
}

/** A response to send, a forward to perform, or undefined: send nothing. */
export type HandleOutcome = Buffer | ForwardRequest | undefined;

export interface QueryHandlerOptions {
  /** TTL of cluster answers, seconds. */
  readonly ttlSeconds: number;
  /** Uniform in [0, 1): shuffles multi-address answers. */
  readonly random: () => number;
  readonly counters: DnsCounters;
}

const FORWARD: CachedAnswer = { kind: 'forward' };

/**
 * Turns one query message into an outcome, synchronously and without I/O. Never throws on any
 * input (malformed messages become FORMERR/NOTIMP or are dropped, see `parseQuery`); answers are
 * computed once per (asker, type, name) and table generation, then served from the asker's cache.
 */
export class QueryHandler {
  readonly #opts: QueryHandlerOptions;

  constructor(opts: QueryHandlerOptions) {
    this.#opts = opts;
  }

  handle(msg: Buffer, asker: AskerContext, transport: QueryTransport): HandleOutcome {
    const counters = this.#opts.counters;
    const q = parseQuery(msg);
    if (q.kind === 'drop') {
      counters.dropped++;
      return undefined;
    }
    if (q.kind === 'error') {
      counters.malformed++;
      return encodeHeaderOnlyResponse(q.id, q.flags, q.rcode);
    }
    const view = asker.view;
    if (q.ednsVersion !== 0) {
      counters.malformed++;
      return encodeRcodeResponse(msg, q, 'BADVERS', view.forwarding);
    }
    if (q.qclass !== CLASS_IN) {
      counters.refused++;
      return encodeRcodeResponse(msg, q, Rcode.REFUSED, view.forwarding);
    }
    if (q.qtype === RrType.AXFR || q.qtype === RrType.IXFR) {
      counters.malformed++;
      return encodeRcodeResponse(msg, q, Rcode.NOTIMP, view.forwarding);
    }
    let answer = asker.cached(q.qtype, q.key);
    if (answer === undefined) {
      answer = this.#compute(asker, q);
      asker.remember(q.qtype, q.key, answer);
    }
    if (answer.kind === 'forward') {
      if (!view.forwarding || view.upstreams.length === 0) {
        counters.noUpstream++;
        return encodeRcodeResponse(msg, q, Rcode.SERVFAIL, view.forwarding);
      }
      return { kind: 'forward', query: q, upstreams: view.upstreams };
    }
    if (answer.rcode === Rcode.NXDOMAIN) {
      counters.nxdomain++;
    } else {
      counters.localAnswers++;
    }
    const limit = transport === 'tcp' ? MAX_MESSAGE_BYTES : q.ednsSize || PLAIN_UDP_LIMIT;
    return encodeResponse(
      msg,
      q,
      { rcode: answer.rcode, authoritative: true, recursionAvailable: view.forwarding },
      answer.records,
      answer.shuffle,
      limit,
      this.#opts.random,
    );
  }

  #compute(asker: AskerContext, q: ParsedQuery): CachedAnswer {
    const name = dottedName(q.key);
    if (name === undefined) {
      return FORWARD;
    }
    const resolution = resolveQuestion(asker.table, asker.view, name, q.qtype);
    if (resolution.kind === 'forward') {
      return FORWARD;
    }
    const records: Buffer[] = [];
    for (const r of resolution.records) {
      try {
        records.push(encodeAnswerRecord(r, this.#opts.ttlSeconds));
      } catch {
        // The table only holds validated addresses and names; a record that still cannot be
        // encoded is left out rather than failing the whole answer.
      }
    }
    return {
      kind: 'local',
      rcode: resolution.rcode === 'NXDOMAIN' ? Rcode.NXDOMAIN : Rcode.NOERROR,
      records,
      shuffle: resolution.shuffle,
    };
  }
}
