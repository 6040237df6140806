/**
 * A fake of the kernel's IPsec side for unit tests (the development kernel has no ESP): XFRM
 * states and policies that `ip xfrm` lines change, with the kernel's rules (an SA is unique by
 * destination and SPI, adding an existing one is EEXIST, deleting a missing one ESRCH), listed in
 * iproute2's text format; and the `inet vxmesh_ipsec` table interpreted from the driver's nft
 * statements, listed in `nft -j` shape. Everything else goes to the wrapped FakeCommandRunner.
 */
import type { FakeCommandRunner } from '../../../src/vxlan/command-runner-fake.js';
import type { CommandRunner, KernelCommand, KernelCommandResult } from '../../../src/vxlan/command-runner.js';
import { IPSEC_NFT_TABLE } from '../../../src/vxlan/ipsec/ipsec-names.js';

interface FakeSa {
  src: string;
  dst: string;
  spi: number;
  reqid: number;
  key: string;
  esn: boolean;
  window: number;
  packets: number;
}

interface FakePolicy {
  src: string;
  dst: string;
  dport: number;
  dir: string;
  priority: number;
  mark: string;
  action: 'allow' | 'block';
  tmpl?: { src: string; dst: string; spi: number; reqid: number };
}

interface FakeChain {
  type: string;
  hook: string;
  priority: number;
  comments: string[];
}

const ok = (stdout = ''): KernelCommandResult => ({ stdout, stderr: '', exitCode: 0 });

function after(words: readonly string[], key: string): string {
  const i = words.indexOf(key);
  return i >= 0 ? (words[i + 1] ?? '') : '';
}

const hex8 = (n: number): string => `0x${n.toString(16).padStart(8, '0')}`;

/** The IPsec state of one fake daemon namespace. */
export class FakeIpsecKernel {
  readonly states = new Map<string, FakeSa>();
  readonly policies = new Map<string, FakePolicy>();
  table: { counters: Map<string, number>; vnis: Set<number> | undefined; chains: Map<string, FakeChain> } | undefined;
  /** Lines of every xfrm batch and nft script applied, for order checks. */
  readonly applied: string[][] = [];

  /** Applies one `xfrm …` line; returns the kernel's error message, or undefined. */
  xfrm(line: string): string | undefined {
    const w = line.trim().split(/\s+/);
    const [, object, op] = w;
    if (object === 'state') {
      const spi = Number.parseInt(after(w, 'spi').slice(2), 16);
      const id = `${after(w, 'dst')} ${spi}`;
      if (op === 'add') {
        if (this.states.has(id)) {
          return 'RTNETLINK answers: File exists';
        }
        const aead = w.indexOf('aead');
        this.states.set(id, {
          src: after(w, 'src'),
          dst: after(w, 'dst'),
          spi,
          reqid: Number(after(w, 'reqid')),
          key: w[aead + 2] ?? '',
          esn: w.includes('esn'),
          window: Number(after(w, 'replay-window')),
          packets: 0,
        });
        return undefined;
      }
      if (op === 'delete') {
        return this.states.delete(id) ? undefined : 'RTNETLINK answers: No such process';
      }
      if (op === 'flush') {
        this.states.clear();
        return undefined;
      }
    }
    if (object === 'policy') {
      const id = `${after(w, 'dir')} ${after(w, 'src')} ${after(w, 'dst')} ${after(w, 'dport')} ${after(w, 'mark')}`;
      if (op === 'update') {
        const t = w.indexOf('tmpl');
        const tw = t >= 0 ? w.slice(t) : [];
        this.policies.set(id, {
          src: after(w, 'src'),
          dst: after(w, 'dst'),
          dport: Number(after(w, 'dport')),
          dir: after(w, 'dir'),
          priority: Number(after(w, 'priority')),
          mark: `${after(w, 'mark')}/${after(w, 'mask')}`,
          action: w.includes('block') ? 'block' : 'allow',
          ...(t >= 0
            ? {
                tmpl: {
                  src: after(tw, 'src'),
                  dst: after(tw, 'dst'),
                  spi: Number.parseInt(after(tw, 'spi').slice(2), 16),
                  reqid: Number(after(tw, 'reqid')),
                },
              }
            : {}),
        });
        return undefined;
      }
      if (op === 'delete') {
        return this.policies.delete(id) ? undefined : 'RTNETLINK answers: No such file or directory';
      }
      if (op === 'flush') {
        this.policies.clear();
        return undefined;
      }
    }
    return `unknown xfrm line: ${line}`;
  }

  /** `ip -s xfrm state list`, as iproute2 6.1 prints it. */
  listStates(): string {
    return [...this.states.values()]
      .map((s) =>
        [
          `src ${s.src} dst ${s.dst}`,
          `\tproto esp spi ${hex8(s.spi)}(${s.spi}) reqid ${s.reqid}(${hex8(s.reqid)}) mode transport`,
          `\treplay-window 0 seq 0x00000000 flag ${s.esn ? 'esn ' : ''}(0x10000000)`,
          `\taead rfc4106(gcm(aes)) ${s.key} (160 bits) 128`,
          '\tanti-replay esn context:',
          '\t seq-hi 0x0, seq 0x0, oseq-hi 0x0, oseq 0x0',
          `\t replay_window ${s.window}, bitmap-length 4`,
          '\t 00000000 00000000 00000000 00000000 ',
          '\tsel src 0.0.0.0/0 dst 0.0.0.0/0 uid 0',
          '\tlifetime current:',
          `\t  ${s.packets * 100}(bytes), ${s.packets}(packets)`,
          '\tstats:',
          '\t  replay-window 0 replay 0 failed 0',
        ].join('\n'),
      )
      .join('\n');
  }

  /** `ip xfrm policy list`. */
  listPolicies(): string {
    return [...this.policies.values()]
      .map((p) =>
        [
          `src ${p.src} dst ${p.dst} proto udp dport ${p.dport} `,
          `\tdir ${p.dir} ${p.action === 'block' ? 'action block ' : ''}priority ${p.priority} ptype main `,
          `\tmark ${p.mark} `,
          ...(p.tmpl
            ? [
                `\ttmpl src ${p.tmpl.src} dst ${p.tmpl.dst}`,
                `\t\tproto esp spi ${hex8(p.tmpl.spi)} reqid ${p.tmpl.reqid} mode transport`,
              ]
            : []),
        ].join('\n'),
      )
      .join('\n');
  }

  /** Applies an nft script about our table atomically; returns an error, or undefined. */
  nft(lines: readonly string[]): string | undefined {
    const T = `inet ${IPSEC_NFT_TABLE}`;
    let t =
      this.table === undefined
        ? undefined
        : {
            counters: new Map(this.table.counters),
            vnis: this.table.vnis && new Set(this.table.vnis),
            chains: new Map([...this.table.chains].map(([k, c]) => [k, { ...c, comments: [...c.comments] }])),
          };
    for (const line of lines) {
      const rest = line.startsWith('add ') || line.startsWith('delete ') || line.startsWith('flush ') ? line : '';
      const m = /^(add|delete|flush) (table|counter|set|element|chain|rule) (\S+ \S+)(?: (\S+))?(.*)$/.exec(rest);
      if (!m || m[3] !== T) {
        return `Error: unexpected statement: ${line}`;
      }
      const [, op, what, , name = '', tail = ''] = m;
      if (what === 'table') {
        t = op === 'add' ? (t ?? { counters: new Map(), vnis: undefined, chains: new Map() }) : undefined;
        continue;
      }
      if (t === undefined) {
        return 'Error: No such file or directory';
      }
      if (what === 'counter' && op === 'add') {
        t.counters.set(name, t.counters.get(name) ?? 0);
      } else if (what === 'set' && op === 'add') {
        t.vnis ??= new Set();
      } else if (what === 'element') {
        const values = (/\{([^}]*)\}/.exec(tail)?.[1] ?? '').split(',').map((v) => Number(v.trim()));
        if (t.vnis === undefined) {
          return 'Error: No such file or directory';
        }
        for (const v of values) {
          if (op === 'add') {
            t.vnis.add(v);
          } else {
            t.vnis.delete(v);
          }
        }
      } else if (what === 'chain') {
        if (op === 'add') {
          const type = /type (\S+)/.exec(tail)?.[1] ?? '';
          const hook = /hook (\S+)/.exec(tail)?.[1] ?? '';
          const priority = Number(/priority (-?\d+)/.exec(tail)?.[1] ?? 0);
          if (!t.chains.has(name)) {
            t.chains.set(name, { type, hook, priority, comments: [] });
          }
        } else if (op === 'flush') {
          const c = t.chains.get(name);
          if (c) {
            c.comments = [];
          }
        } else {
          t.chains.delete(name);
        }
      } else if (what === 'rule' && op === 'add') {
        const c = t.chains.get(name);
        if (!c) {
          return 'Error: No such file or directory';
        }
        c.comments.push(/comment "([^"]*)"/.exec(tail)?.[1] ?? '');
      } else {
        return `Error: unsupported statement: ${line}`;
      }
    }
    this.table = t;
    return undefined;
  }

  /** `nft -j list table inet vxmesh_ipsec`. */
  listTable(): unknown {
    const t = this.table;
    if (t === undefined) {
      return undefined;
    }
    const items: unknown[] = [{ metainfo: {} }, { table: { family: 'inet', name: IPSEC_NFT_TABLE } }];
    for (const [name, packets] of t.counters) {
      items.push({ counter: { family: 'inet', table: IPSEC_NFT_TABLE, name, packets, bytes: packets * 100 } });
    }
    if (t.vnis !== undefined) {
      items.push({
        set: {
          family: 'inet',
          table: IPSEC_NFT_TABLE,
          name: 'encrypted_vnis',
          type: 'integer',
          ...(t.vnis.size > 0 ? { elem: [...t.vnis] } : {}),
        },
      });
    }
    for (const [name, c] of t.chains) {
      items.push({
        chain: {
          family: 'inet',
          table: IPSEC_NFT_TABLE,
          name,
          type: c.type,
          hook: c.hook,
          prio: c.priority,
          policy: 'accept',
        },
      });
    }
    for (const [name, c] of t.chains) {
      for (const comment of c.comments) {
        items.push({ rule: { family: 'inet', table: IPSEC_NFT_TABLE, chain: name, comment, expr: [] } });
      }
    }
    return { nftables: items };
  }
}

/** A runner: IPsec commands of the daemon namespace go to `ipsec`, everything else to `inner`. */
export class IpsecFakeRunner implements CommandRunner {
  readonly ipsec = new FakeIpsecKernel();

  constructor(readonly inner: FakeCommandRunner) {}

  run(command: KernelCommand, options: { readonly signal?: AbortSignal } = {}): Promise<KernelCommandResult> {
    const args = command.args.join(' ');
    const lines = (command.input ?? '').split('\n').filter((l) => l.trim() !== '');
    if (command.scope.kind === 'daemon') {
      if (command.tool === 'ip' && args === '-s xfrm state list') {
        return Promise.resolve(ok(this.ipsec.listStates()));
      }
      if (command.tool === 'ip' && args === 'xfrm policy list') {
        return Promise.resolve(ok(this.ipsec.listPolicies()));
      }
      if (
        command.tool === 'ip' &&
        args === '-force -batch -' &&
        lines.length > 0 &&
        lines.every((l) => l.startsWith('xfrm '))
      ) {
        this.ipsec.applied.push(lines);
        const errors: string[] = [];
        lines.forEach((line, i) => {
          const err = this.ipsec.xfrm(line);
          if (err !== undefined) {
            errors.push(err, `Command failed -:${i + 1}`);
          }
        });
        return Promise.resolve({ stdout: '', stderr: errors.join('\n'), exitCode: errors.length > 0 ? 1 : 0 });
      }
      if (command.tool === 'nft' && args === `-j list table inet ${IPSEC_NFT_TABLE}`) {
        const table = this.ipsec.listTable();
        return Promise.resolve(
          table === undefined
            ? { stdout: '', stderr: 'Error: No such file or directory', exitCode: 1 }
            : ok(JSON.stringify(table)),
        );
      }
      if (command.tool === 'nft' && args === '-f -' && lines.some((l) => l.includes(` inet ${IPSEC_NFT_TABLE}`))) {
        this.ipsec.applied.push(lines);
        const err = this.ipsec.nft(lines);
        return Promise.resolve(err === undefined ? ok() : { stdout: '', stderr: err, exitCode: 1 });
      }
    }
    return this.inner.run(command, options);
  }
}
