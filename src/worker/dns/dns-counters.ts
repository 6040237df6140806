/**
 * Resolver counters, summed over every container of the node since the agent started. Plain
 * mutable numbers: the hot path increments them without allocation; readers take a copy.
 */
export interface DnsCounters {
  /** Queries received over UDP / TCP (including malformed ones). */
  udpQueries: number;
  tcpQueries: number;
  /** Answered from the cluster records with NOERROR (including NOERROR without records). */
  localAnswers: number;
  /** Cluster-shaped names that do not exist. */
  nxdomain: number;
  /** Sent upstream. */
  forwarded: number;
  /** Forwarded queries every upstream server failed (answered SERVFAIL). */
  forwardFailures: number;
  /** Refused: too many forwarded queries in flight, or a class other than IN. */
  refused: number;
  /** Answered SERVFAIL without asking anyone: forwarding not allowed or no upstream server. */
  noUpstream: number;
  /** FORMERR / NOTIMP / BADVERS answers. */
  malformed: number;
  /** Messages dropped without an answer (too short, responses, unreadable TCP frames). */
  dropped: number;
  /** TCP connections accepted / refused (over the per-container limit). */
  tcpConnections: number;
  tcpRejected: number;
  /** Errors reported by a resolver's UDP socket (a reply that could not be sent, ENOBUFS). */
  socketErrors: number;
}

export function createDnsCounters(): DnsCounters {
  return {
    udpQueries: 0,
    tcpQueries: 0,
    localAnswers: 0,
    nxdomain: 0,
    forwarded: 0,
    forwardFailures: 0,
    refused: 0,
    noUpstream: 0,
    malformed: 0,
    dropped: 0,
    tcpConnections: 0,
    tcpRejected: 0,
    socketErrors: 0,
  };
}
