/**
 * The capability probe the agent runs at start: can this kernel enforce encrypted overlays?
 * Everything the IPsec stage will ever program is tried for real in a throw-away network
 * namespace: an ESP transport SA with the exact AEAD, ESN and replay window, the marked per-peer
 * and block policies, and the whole nft table (secpath, raw payload set, route chain,
 * `rt ipsec`). Whatever fails is named, and the node then refuses encrypted networks (fail
 * closed, CVE-2023-28841) instead of carrying them in plaintext.
 */
import { randomBytes } from 'node:crypto';
import { REGISTRY_SCOPE, netnsScope } from '../command-runner.js';
import type { CommandRunner, KernelCommandResult } from '../command-runner.js';
import {
  AEAD_ALGORITHM,
  AEAD_ICV_BITS,
  BLOCK_POLICY_PRIORITY,
  IPSEC_MARK,
  IPSEC_REQID,
  REPLAY_WINDOW,
  TUNNEL_POLICY_PRIORITY,
  probeNamespaceName,
} from './ipsec-names.js';
import { diffIpsecNft } from './ipsec-nft.js';

/** The probe's verdict. */
export interface IpsecCapability {
  readonly supported: boolean;
  /** What is missing, in words an operator can act on; empty when supported. */
  readonly missing: readonly string[];
  /** The kernel's and the tools' own messages. */
  readonly detail: string;
}

const A = '192.0.2.1';
const B = '192.0.2.2';
const PROBE_PORT = 4789;
const PROBE_VNI = 4242;

function output(r: KernelCommandResult): string {
  return (r.stderr.trim() || r.stdout.trim() || `exit ${String(r.exitCode)}`).replace(/\s+/g, ' ').slice(0, 200);
}

/**
 * Probes the kernel. Never throws for what the kernel lacks; rejects only when a tool cannot be
 * started at all or `signal` aborts.
 */
export async function probeIpsec(
  runner: CommandRunner,
  options: { readonly namespacePrefix: string; readonly signal?: AbortSignal },
): Promise<IpsecCapability> {
  const name = probeNamespaceName(options.namespacePrefix);
  const opts = options.signal === undefined ? {} : { signal: options.signal };
  const scope = netnsScope(name);
  const ip = (args: string[]): Promise<KernelCommandResult> => runner.run({ tool: 'ip', scope, args }, opts);
  const missing: string[] = [];
  const details: string[] = [];
  // A namespace left by a probe that was killed is removed first.
  await runner.run({ tool: 'ip', scope: REGISTRY_SCOPE, args: ['netns', 'del', name] }, opts);
  const created = await runner.run({ tool: 'ip', scope: REGISTRY_SCOPE, args: ['netns', 'add', name] }, opts);
  if (created.exitCode !== 0) {
    return {
      supported: false,
      missing: ['a network namespace for the probe'],
      detail: `ip netns add: ${output(created)}`,
    };
  }
  try {
    const list = await ip(['xfrm', 'state', 'list']);
    if (list.exitCode !== 0) {
      missing.push('the XFRM netlink interface (xfrm_user)');
      details.push(`ip xfrm state: ${output(list)}`);
    } else {
      const key = `0x${randomBytes(20).toString('hex')}`;
      const sa = await ip([
        ...['xfrm', 'state', 'add', 'src', A, 'dst', B, 'proto', 'esp', 'spi', '0x100', 'reqid', String(IPSEC_REQID)],
        ...['mode', 'transport', 'replay-window', String(REPLAY_WINDOW), 'flag', 'esn'],
        ...['aead', AEAD_ALGORITHM, key, String(AEAD_ICV_BITS)],
      ]);
      if (sa.exitCode !== 0) {
        const message = output(sa);
        details.push(`ESP SA with ${AEAD_ALGORITHM}: ${message}`);
        // Which half is missing: the kernel checks the algorithm before the ESP type, so try
        // ESP with an algorithm every kernel has, to tell whether ESP itself is there.
        const esp = await ip([
          ...['xfrm', 'state', 'add', 'src', A, 'dst', B, 'proto', 'esp', 'spi', '0x101', 'mode', 'transport'],
          ...['enc', 'cbc(aes)', `0x${'00'.repeat(16)}`, 'auth-trunc', 'hmac(sha256)', `0x${'00'.repeat(32)}`, '128'],
        ]);
        if (/AEAD algorithm not found/i.test(message)) {
          missing.push(`the ${AEAD_ALGORITHM} AEAD (gcm)`);
        }
        if (esp.exitCode !== 0 && /type not found/i.test(output(esp))) {
          missing.push('ESP (esp4)');
        }
        if (
          !/AEAD algorithm not found/i.test(message) &&
          !(esp.exitCode !== 0 && /type not found/i.test(output(esp)))
        ) {
          missing.push(`an ESP SA with ${AEAD_ALGORITHM}, ESN and a replay window of ${REPLAY_WINDOW}`);
        }
      }
      const mark = ['mark', `0x${IPSEC_MARK.toString(16)}`, 'mask', '0xffffffff'];
      const policies = await Promise.all([
        ip([
          ...['xfrm', 'policy', 'add', 'src', `${A}/32`, 'dst', `${B}/32`, 'proto', '17', 'dport', String(PROBE_PORT)],
          ...['dir', 'out', 'priority', String(TUNNEL_POLICY_PRIORITY), ...mark],
          ...[
            'tmpl',
            'src',
            A,
            'dst',
            B,
            'proto',
            'esp',
            'spi',
            '0x100',
            'reqid',
            String(IPSEC_REQID),
            'mode',
            'transport',
          ],
        ]),
        ip([
          ...[
            'xfrm',
            'policy',
            'add',
            'src',
            '0.0.0.0/0',
            'dst',
            '0.0.0.0/0',
            'proto',
            '17',
            'dport',
            String(PROBE_PORT),
          ],
          ...['dir', 'out', 'priority', String(BLOCK_POLICY_PRIORITY), ...mark, 'action', 'block'],
        ]),
      ]);
      for (const p of policies) {
        if (p.exitCode !== 0) {
          missing.push('marked XFRM policies');
          details.push(`ip xfrm policy: ${output(p)}`);
          break;
        }
      }
    }
    const nft = await runner.run(
      {
        tool: 'nft',
        scope,
        args: ['-f', '-'],
        input: `${diffIpsecNft(PROBE_PORT, [PROBE_VNI], undefined).join('\n')}\n`,
      },
      opts,
    );
    if (nft.exitCode !== 0) {
      missing.push('nftables expressions (meta secpath, raw payload sets, route chains, rt ipsec)');
      details.push(`nft: ${output(nft)}`);
    }
  } finally {
    await runner.run({ tool: 'ip', scope: REGISTRY_SCOPE, args: ['netns', 'del', name] }, opts).catch(() => undefined);
  }
  return { supported: missing.length === 0, missing, detail: details.join('; ') };
}

/** The error attach operations fail with on a node that cannot enforce encrypted overlays. */
export function unsupportedMessage(network: string, capability: IpsecCapability): string {
  return (
    `network ${network} is encrypted (--opt encrypted), but this node's kernel cannot enforce IPsec ` +
    `(missing: ${capability.missing.join(', ') || 'unknown'}); refusing to carry it in plaintext` +
    (capability.detail === '' ? '' : ` [${capability.detail}]`)
  );
}
