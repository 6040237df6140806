/**
 * Runs inside the IPsec test VM (Debian's stock kernel, which has ESP and GCM): two simulated
 * nodes, each a network namespace standing in for a daemon's own, programmed by the agent's real
 * code from this checkout (bundled by build.sh): the capability probe, `buildDataplaneSpec` from
 * assignment items carrying a key ring made by the managers' key-ring code, and the
 * `DataplaneDriver` reading, diffing and applying through `ip` / `nft`. The checks are the
 * acceptance list of issue 9 and RELIABILITY A4 17-23; each prints `IPSEC-VM: PASS|FAIL ...`, the
 * last line `IPSEC-VM: DONE pass=N fail=M` (run.sh and test/ipsec/ipsec-vm.test.ts parse them).
 *
 * Topology: namespace `ul` holds bridge br0 (the underlay); h1, h2 (nodes) and h3 (a stranger)
 * hang off it with 192.0.2.1-3. Container A (n1-c-a) runs on node 1, container B (n2-c-b) on
 * node 2. Networks: enc (VNI 4242, encrypted, A and B), plain (4243, A and B), solo (4244,
 * encrypted, only B: a node alone on an encrypted network).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Container, ContainerNetwork } from '../../../src/gen/vxmesh/v1/container.js';
import type { Assignment } from '../../../src/gen/vxmesh/v1/dispatcher.js';
import { Endpoint } from '../../../src/gen/vxmesh/v1/endpoint.js';
import { Network } from '../../../src/gen/vxmesh/v1/network.js';
import type { NetworkKeyRing } from '../../../src/gen/vxmesh/v1/network.js';
import { createKeyRing, rotateKeyRing } from '../../../src/manager/keys/key-ring.js';
import { ProcessCommandRunner } from '../../../src/vxlan/command-runner-process.js';
import { DataplaneDriver } from '../../../src/vxlan/dataplane-driver.js';
import type { NodeDataplaneSpec, ReconcileReport } from '../../../src/vxlan/dataplane-spec.js';
import { IPSEC_MARK, IPSEC_NFT_TABLE, IPSEC_REQID } from '../../../src/vxlan/ipsec/ipsec-names.js';
import { probeIpsec } from '../../../src/vxlan/ipsec/ipsec-probe.js';
import { readIpsecStatus } from '../../../src/vxlan/ipsec/ipsec-status.js';
import { parsePolicies, parseXfrmStates } from '../../../src/vxlan/ipsec/xfrm-text.js';
import type { XfrmState } from '../../../src/vxlan/ipsec/xfrm-text.js';
import type { LocalAttachment } from '../../../src/worker/containers/container-runtime.js';
import { buildDataplaneSpec } from '../../../src/worker/dataplane-spec-builder.js';

// ---------------------------------------------------------------- reporting

let passed = 0;
let failed = 0;
const t0 = Date.now();
const at = (): string => ((Date.now() - t0) / 1000).toFixed(1);
function ok(what: string): void {
  passed++;
  console.log(`IPSEC-VM: PASS [t=${at()}s] ${what}`);
}
function bad(what: string): void {
  failed++;
  console.log(`IPSEC-VM: FAIL [t=${at()}s] ${what}`);
}
function check(cond: boolean, what: string): boolean {
  (cond ? ok : bad)(what);
  return cond;
}
function info(what: string): void {
  console.log(`IPSEC-VM: INFO [t=${at()}s] ${what}`);
}

// ---------------------------------------------------------------- processes

interface Result {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function sh(cmd: string, args: readonly string[], input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.stdin.on('error', () => undefined);
    child.stdin.end(input ?? '');
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

async function must(cmd: string, args: readonly string[], input?: string): Promise<string> {
  const r = await sh(cmd, args, input);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

const inNs = (ns: string, cmd: string, args: readonly string[], input?: string): Promise<Result> =>
  sh('ip', ['netns', 'exec', ns, cmd, ...args], input);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** busybox ping from a container; the summary's received count and loss. */
async function ping(
  ns: string,
  dst: string,
  count: number,
  extra: readonly string[] = [],
): Promise<{ received: number; loss: string; dup: boolean; out: string }> {
  const r = await inNs(ns, 'ping', [
    '-i',
    '0.2',
    '-c',
    String(count),
    '-W',
    '2',
    '-w',
    String(Math.ceil(count * 0.2) + 3),
    ...extra,
    dst,
  ]);
  const m = /(\d+) packets received/.exec(r.stdout);
  return {
    received: Number(m?.[1] ?? 0),
    loss: /(\d+)% packet loss/.exec(r.stdout)?.[1] ?? '100',
    dup: /DUP|duplicates/.test(r.stdout),
    out: r.stdout.trim().split('\n').slice(-2).join(' | '),
  };
}

/** Runs `work` while tcpdump captures on a node's underlay interface; returns the pcap path. */
async function capture(host: string, dev: string, name: string, work: () => Promise<void>): Promise<string> {
  const file = `/tmp/${name}.pcap`;
  const td = spawn(
    'ip',
    [
      'netns',
      'exec',
      host,
      'tcpdump',
      '-Z',
      'root',
      '-U',
      '-ni',
      dev,
      '-w',
      file,
      'udp or esp or ip[6:2] & 0x3fff != 0',
    ],
    {
      stdio: 'ignore',
    },
  );
  await sleep(1200);
  try {
    await work();
  } finally {
    await sleep(700);
    td.kill('SIGINT');
    await new Promise((r) => td.once('close', r));
  }
  return file;
}

async function countPackets(file: string, filter: string): Promise<number> {
  const r = await sh('tcpdump', ['-Z', 'root', '-nr', file, filter]);
  return r.stdout.split('\n').filter((l) => l.trim() !== '').length;
}

// ---------------------------------------------------------------- cluster model

const PREFIX = (n: 1 | 2): string => `n${n}-`;
const ADDR = (n: 1 | 2 | 3): string => `192.0.2.${n}`;
const NODE_ID = (n: 1 | 2): string => `node${n}aaaaaaaaaaaaaaaaaaaa`;
const CONTAINER_NS = { 1: 'n1-c-a', 2: 'n2-c-b' } as const;

const NETS = {
  enc: Network.create({
    id: 'encnetaaaaaaaaaaaaaaaaaaa',
    name: 'enc',
    driver: 'overlay',
    encrypted: true,
    options: { encrypted: '' },
    subnets: [{ subnet: '10.42.0.0/24', gateway: '10.42.0.1', vni: 4242 }],
  }),
  plain: Network.create({
    id: 'plainnetaaaaaaaaaaaaaaaaa',
    name: 'plain',
    driver: 'overlay',
    subnets: [{ subnet: '10.43.0.0/24', gateway: '10.43.0.1', vni: 4243 }],
  }),
  solo: Network.create({
    id: 'solonetaaaaaaaaaaaaaaaaaa',
    name: 'solo',
    driver: 'overlay',
    encrypted: true,
    subnets: [{ subnet: '10.44.0.0/24', gateway: '10.44.0.1', vni: 4244 }],
  }),
} as const;
type NetName = keyof typeof NETS;

/** Which networks each container is on, in interface order, and its host part. */
const MEMBERSHIP: Record<1 | 2, { host: number; nets: NetName[] }> = {
  1: { host: 2, nets: ['enc', 'plain'] },
  2: { host: 3, nets: ['enc', 'plain', 'solo'] },
};

function ipOf(net: NetName, host: number): string {
  return (NETS[net].subnets[0]?.subnet ?? '').replace(/\.0\/24$/, `.${host}`);
}
function macOf(net: NetName, host: number): string {
  const vni = NETS[net].subnets[0]?.vni ?? 0;
  return `02:42:0a:${(vni & 0xff).toString(16).padStart(2, '0')}:00:${host.toString(16).padStart(2, '0')}`;
}
const endpointId = (n: 1 | 2, net: NetName): string => `ep${n}${net}`.padEnd(25, 'e');

interface World {
  ring: NetworkKeyRing;
  port: number;
  bootIds: Record<1 | 2, string>;
  /** Networks in use (a network's removal from a node: drop it here). */
  nets: ReadonlySet<NetName>;
  /** Whether the kernel can enforce IPsec (the probe's verdict). */
  ipsec: boolean;
}

function specOf(n: 1 | 2, w: World): NodeDataplaneSpec {
  const other: 1 | 2 = n === 1 ? 2 : 1;
  const assignments = new Map<string, Assignment>();
  const mine = MEMBERSHIP[n].nets.filter((x) => w.nets.has(x));
  for (const net of mine) {
    assignments.set(`network/${NETS[net].id}`, { item: { $case: 'network', value: NETS[net] } });
  }
  for (const owner of [1, 2] as const) {
    for (const net of MEMBERSHIP[owner].nets.filter((x) => w.nets.has(x) && mine.includes(x))) {
      const ep = Endpoint.create({
        id: endpointId(owner, net),
        networkId: NETS[net].id,
        nodeId: NODE_ID(owner),
        ownerName: `c${owner}`,
        ipv4Address: `${ipOf(net, MEMBERSHIP[owner].host)}/24`,
        macAddress: macOf(net, MEMBERSHIP[owner].host),
      });
      assignments.set(`endpoint/${ep.id}`, { item: { $case: 'endpoint', value: ep } });
    }
  }
  if (mine.some((net) => MEMBERSHIP[other].nets.includes(net))) {
    assignments.set(`peer/${NODE_ID(other)}`, {
      item: { $case: 'peer', value: { nodeId: NODE_ID(other), dataPathAddr: ADDR(other), bootId: w.bootIds[other] } },
    });
  }
  if (mine.some((net) => NETS[net].encrypted)) {
    assignments.set('network-keys/cluster', { item: { $case: 'networkKeys', value: { keys: w.ring.keys } } });
  }
  const container = Container.create({
    id: `container${n}`.padEnd(64, '0'),
    name: `c${n}`,
    namespace: CONTAINER_NS[n],
    networks: mine.map((net, i) =>
      ContainerNetwork.create({
        networkId: NETS[net].id,
        networkName: net,
        endpointId: endpointId(n, net),
        ipv4Address: `${ipOf(net, MEMBERSHIP[n].host)}/24`,
        macAddress: macOf(net, MEMBERSHIP[n].host),
        gateway: NETS[net].subnets[0]?.gateway ?? '',
        ifName: `eth${i}`,
      }),
    ),
  });
  const attachments: LocalAttachment[] = container.networks.map((network) => ({ container, network }));
  return buildDataplaneSpec({
    nodeId: NODE_ID(n),
    namespacePrefix: PREFIX(n),
    dataPathAddr: ADDR(n),
    dataPathPort: w.port,
    underlayMtu: 1500,
    assignments,
    attachedNetworks: new Map(),
    attachments,
    loadBalancing: false,
    ...(w.ipsec ? { ipsec: { bootId: w.bootIds[n] } } : {}),
  });
}

// ---------------------------------------------------------------- kernel views

const runners = {
  1: new ProcessCommandRunner({ baseNamespace: 'h1' }),
  2: new ProcessCommandRunner({ baseNamespace: 'h2' }),
};
const newDriver = (n: 1 | 2): DataplaneDriver => new DataplaneDriver({ runner: runners[n], daemonNamespace: `h${n}` });
const drivers = { 1: newDriver(1), 2: newDriver(2) };

async function reconcile(n: 1 | 2, w: World, what: string): Promise<ReconcileReport> {
  const report = await drivers[n].reconcile(specOf(n, w));
  if (report.errors.length > 0) {
    info(`node${n} ${what}: ${report.errors.join(' | ')}`);
  }
  return report;
}
const commandsOf = (r: ReconcileReport): number => [...r.commands.values()].reduce((a, b) => a + b, 0);

async function states(host: string): Promise<XfrmState[]> {
  return parseXfrmStates(await must('ip', ['-n', host, '-s', 'xfrm', 'state', 'list'])).filter(
    (s) => s.reqid === IPSEC_REQID,
  );
}
async function xfrmStat(host: string): Promise<Record<string, number>> {
  const text = (await inNs(host, 'cat', ['/proc/net/xfrm_stat'])).stdout;
  return Object.fromEntries(
    text
      .split('\n')
      .map((l) => l.trim().split(/\s+/))
      .filter((p) => p.length === 2)
      .map(([k, v]) => [k ?? '', Number(v)]),
  );
}
async function plaintextDropped(host: string): Promise<number> {
  const r = await inNs(host, 'nft', ['-j', 'list', 'counter', 'inet', IPSEC_NFT_TABLE, 'plaintext_dropped']);
  const m = /"packets":\s*(\d+)/.exec(r.stdout);
  return Number(m?.[1] ?? -1);
}
async function vxlanVnis(host: string): Promise<number[]> {
  // VXLAN devices live in the node's overlay namespaces.
  const all = (JSON.parse((await must('ip', ['-j', 'netns', 'list'])) || '[]') as { name: string }[]).map(
    (x) => x.name,
  );
  const prefix = host === 'h1' ? 'n1-o-' : 'n2-o-';
  const vnis: number[] = [];
  for (const ns of all.filter((x) => x.startsWith(prefix))) {
    const links = JSON.parse(await must('ip', ['-n', ns, '-j', '-d', 'link', 'show'])) as {
      linkinfo?: { info_kind?: string; info_data?: { id?: number } };
    }[];
    for (const l of links) {
      if (l.linkinfo?.info_kind === 'vxlan' && l.linkinfo.info_data?.id !== undefined) {
        vnis.push(l.linkinfo.info_data.id);
      }
    }
  }
  return vnis.sort();
}

/** Sends `count` plaintext VXLAN frames (inner: a broadcast ARP) for `vni` to node 2 from `host`. */
async function inject(host: string, vni: number, port: number, count: number): Promise<void> {
  const code = `
    const d = require('dgram').createSocket('udp4');
    const b = Buffer.alloc(8 + 42);
    b[0] = 0x08; b.writeUIntBE(${vni}, 4, 3);
    b.fill(0xff, 8, 14); b.set([2, 0x66, 0, 0, 0, 1], 14); b.writeUInt16BE(0x0806, 20);
    b.set([0, 1, 8, 0, 6, 4, 0, 1], 22);
    let n = 0;
    const next = () => n++ < ${count} ? d.send(b, ${port}, '${ADDR(2)}', next) : d.close();
    next();`;
  await must('ip', ['netns', 'exec', host, 'node', '-e', code]);
}

/** TCP across the overlay: 256 KiB from A to B, B answers with the byte count. */
async function tcp(dst: string): Promise<boolean> {
  const server = spawn(
    'ip',
    [
      'netns',
      'exec',
      CONTAINER_NS[2],
      'node',
      '-e',
      `const s = require('net').createServer((c) => { let n = 0; c.on('data', (d) => { n += d.length; }); c.on('end', () => { c.end(String(n)); s.close(); }); }); s.listen(5000);`,
    ],
    { stdio: 'ignore' },
  );
  await sleep(2500);
  const client = await inNs(CONTAINER_NS[1], 'node', [
    '-e',
    `const c = require('net').connect(5000, '${dst}', () => c.end(Buffer.alloc(262144, 7))); let a = ''; c.on('data', (d) => { a += d; }); c.on('end', () => console.log('got ' + a)); setTimeout(() => process.exit(3), 20000).unref();`,
  ]);
  server.kill();
  return client.stdout.includes('got 262144');
}

// ---------------------------------------------------------------- the run

async function topology(): Promise<void> {
  await must('ip', ['netns', 'add', 'ul']);
  await must('ip', ['-n', 'ul', 'link', 'add', 'br0', 'type', 'bridge']);
  await must('ip', ['-n', 'ul', 'link', 'set', 'br0', 'up']);
  for (const i of [1, 2, 3] as const) {
    await must('ip', ['netns', 'add', `h${i}`]);
    await must('ip', [
      'link',
      'add',
      `u${i}`,
      'netns',
      `h${i}`,
      'type',
      'veth',
      'peer',
      'name',
      `p${i}`,
      'netns',
      'ul',
    ]);
    await must('ip', ['-n', 'ul', 'link', 'set', `p${i}`, 'master', 'br0', 'up']);
    await must('ip', ['-n', `h${i}`, 'addr', 'add', `${ADDR(i)}/24`, 'dev', `u${i}`]);
    await must('ip', ['-n', `h${i}`, 'link', 'set', `u${i}`, 'up']);
    await must('ip', ['-n', `h${i}`, 'link', 'set', 'lo', 'up']);
  }
  for (const ns of Object.values(CONTAINER_NS)) {
    await must('ip', ['netns', 'add', ns]);
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }
}

async function main(): Promise<void> {
  await topology();
  const w: World = {
    ring: createKeyRing(Date.now()),
    port: 4789,
    bootIds: { 1: 'boot-1-a', 2: 'boot-2-a' },
    nets: new Set<NetName>(['enc', 'plain', 'solo']),
    ipsec: false,
  };
  const encB = ipOf('enc', MEMBERSHIP[2].host);
  const plainB = ipOf('plain', MEMBERSHIP[2].host);

  // 1. Fail closed: without esp4 (and no module autoloading) the probe says no; the spec then
  //    has no encrypted overlay, the driver builds none even when asked to, plain ones work.
  const denied = await probeIpsec(new ProcessCommandRunner(), { namespacePrefix: 'probe-' });
  check(
    !denied.supported && denied.missing.includes('ESP (esp4)'),
    `probe without esp4 fails closed: missing=${denied.missing.join(', ')}`,
  );
  await reconcile(1, w, 'unsupported');
  await reconcile(2, w, 'unsupported');
  const { encryption: _ignored, ...withoutSection } = specOf(2, { ...w, ipsec: true });
  const forced = await drivers[2].reconcile(withoutSection);
  check(
    (forced.heldBack ?? []).length === 2 &&
      !(await vxlanVnis('h2')).includes(4242) &&
      !(await vxlanVnis('h2')).includes(4244),
    `no VXLAN device for an encrypted VNI without IPsec (a spec asking for one anyway: held back ${String(forced.heldBack?.length)})`,
  );
  let p = await ping(CONTAINER_NS[1], plainB, 3);
  check(p.received === 3, `unencrypted network still works without IPsec: ${p.out}`);

  // 2. Load esp4: the probe passes.
  for (const m of readFileSync(process.env['LATE_MODULES'] ?? '/etc/late-modules', 'utf8')
    .split('\n')
    .filter(Boolean)) {
    await must('insmod', [m]);
  }
  await must('sh', ['-c', 'echo /sbin/modprobe > /proc/sys/kernel/modprobe']);
  const granted = await probeIpsec(new ProcessCommandRunner(), { namespacePrefix: 'probe-' });
  check(granted.supported, `probe with esp4 + gcm passes${granted.supported ? '' : `: ${granted.detail}`}`);
  w.ipsec = granted.supported;

  // 3. Both nodes programmed by the driver; the first pass installs enforcement, the follow-up
  //    builds the encrypted overlays.
  const r1 = await reconcile(1, w, 'first encrypted pass');
  const r2 = await reconcile(2, w, 'first encrypted pass');
  check(
    r1.errors.length === 0 && r2.errors.length === 0 && r1.heldBack === undefined && r2.heldBack === undefined,
    'encrypted overlays built in one reconcile call per node, without errors',
  );
  const vnis2 = await vxlanVnis('h2');
  check(vnis2.includes(4242) && vnis2.includes(4243) && vnis2.includes(4244), `node 2 has VNIs ${vnis2.join(',')}`);
  const again = [commandsOf(await reconcile(1, w, 'idempotence')), commandsOf(await reconcile(2, w, 'idempotence'))];
  if (!check(again[0] === 0 && again[1] === 0, `a second pass changes nothing (commands ${again.join('/')})`)) {
    const planned = await drivers[1].plan(specOf(1, w));
    info(
      `node 1 would still do: ${JSON.stringify(planned.plan.stages.map((st) => [st.name, st.batches.map((b) => b.lines)]))}`,
    );
  }
  if (process.env['VXMESH_VM_DEBUG'] === '1' || readFileSync('/proc/cmdline', 'utf8').includes('vxmesh.debug=1')) {
    for (const cmd of [
      ['ip', '-n', 'h1', '-s', 'xfrm', 'state'],
      ['ip', '-n', 'h1', 'xfrm', 'policy'],
      ['ip', 'netns', 'exec', 'h1', 'nft', 'list', 'ruleset'],
    ]) {
      const out = (await sh(cmd[0] ?? '', cmd.slice(1))).stdout.replace(/0x[0-9a-f]{40}/g, '<key>');
      info(`${cmd.join(' ')}:\n${out}`);
    }
  }
  const mtu = (
    JSON.parse((await sh('ip', ['-n', CONTAINER_NS[1], '-j', 'link', 'show', 'eth0'])).stdout || '[]') as {
      mtu: number;
    }[]
  )[0]?.mtu;
  check(mtu === 1416, `encrypted overlay MTU ${String(mtu)} (1500 − 50 VXLAN − 34 ESP)`);
  const st1 = await states('h1');
  check(
    st1.length === 4 &&
      st1.every(
        (s) =>
          s.esn &&
          s.replayWindow >= 64 &&
          s.mode === 'transport' &&
          s.aead?.name === 'rfc4106(gcm(aes))' &&
          s.aead.icvBits === 128,
      ),
    `node 1 SAs: ${st1.length} (3 in + 1 out), ESP transport rfc4106(gcm(aes)) ICV 128, ESN, replay window ${st1[0]?.replayWindow ?? 0}`,
  );
  const pol1 = parsePolicies(await must('ip', ['-n', 'h1', 'xfrm', 'policy', 'list'])).filter(
    (x) => x.mark?.value === IPSEC_MARK,
  );
  check(
    pol1.length === 2 &&
      pol1.every((x) => x.dport === w.port && x.proto === 17) &&
      pol1.some((x) => x.action === 'block'),
    `node 1 policies: peer ESP policy + block policy, both for UDP ${w.port}`,
  );

  // 4. Ping and TCP over the encrypted overlay; the underlay carries only ESP for it.
  let wire = await capture('h2', 'u2', 'wire4789', async () => {
    p = await ping(CONTAINER_NS[1], encB, 5);
    check(p.received === 5, `ping over the encrypted overlay: ${p.out}`);
    check(await tcp(encB), 'TCP over the encrypted overlay: 256 KiB delivered');
    p = await ping(CONTAINER_NS[1], encB, 2, ['-s', '1388']);
    check(p.received === 2, `1388-byte ping (fills the 1416 MTU) over the encrypted overlay: ${p.out}`);
  });
  let esp = await countPackets(wire, 'ip proto 50');
  let clear = await countPackets(wire, `udp port ${w.port} and udp[12:4] >> 8 = 4242`);
  const frags = await countPackets(wire, 'ip[6:2] & 0x3fff != 0');
  check(esp >= 20 && clear === 0, `wire (port ${w.port}): ${esp} ESP packets, ${clear} plaintext VXLAN of VNI 4242`);
  check(frags === 0, `no outer IP fragments at the encrypted MTU (${frags})`);
  wire = await capture('h2', 'u2', 'plain4789', async () => {
    p = await ping(CONTAINER_NS[1], plainB, 3);
  });
  check(
    p.received === 3 && (await countPackets(wire, `udp port ${w.port} and udp[12:4] >> 8 = 4243`)) >= 6,
    'the unencrypted network stays plain VXLAN beside it',
  );

  // 5. Plaintext for encrypted VNIs is dropped and counted: from a stranger, for a single node
  //    alone on its network (no peers), and from a peer that stopped encrypting.
  let before = await plaintextDropped('h2');
  await inject('h3', 4242, w.port, 10);
  await sleep(500);
  let after = await plaintextDropped('h2');
  check(after - before >= 10, `plaintext VXLAN for VNI 4242 from a non-member dropped: counter ${before} -> ${after}`);
  before = after;
  await inject('h3', 4244, w.port, 10);
  await sleep(500);
  after = await plaintextDropped('h2');
  check(after - before >= 10, `single node, no peers (VNI 4244): plaintext dropped, counter ${before} -> ${after}`);
  // A permissive admin table changes nothing: a drop in any base chain is final.
  await inNs(
    'h2',
    'nft',
    ['-f', '-'],
    'table inet admin { chain input { type filter hook input priority -400; policy accept; udp dport 4789 accept; } }\n',
  );
  before = after;
  await inject('h3', 4242, w.port, 5);
  await sleep(500);
  after = await plaintextDropped('h2');
  check(
    after - before >= 5,
    `with an admin "udp dport 4789 accept" table loaded first: still dropped, ${before} -> ${after}`,
  );
  await inNs('h2', 'nft', ['delete', 'table', 'inet', 'admin']);
  // Node 1 stops encrypting (its IPsec table and policies removed behind the agent's back).
  await must('ip', ['netns', 'exec', 'h1', 'nft', 'delete', 'table', 'inet', IPSEC_NFT_TABLE]);
  await must('ip', ['-n', 'h1', 'xfrm', 'policy', 'flush']);
  before = await plaintextDropped('h2');
  p = await ping(CONTAINER_NS[1], encB, 3);
  after = await plaintextDropped('h2');
  check(
    p.received === 0 && after > before,
    `a peer sending plaintext for VNI 4242 is refused: ping ${p.received}/3, counter ${before} -> ${after}`,
  );
  const repaired = await reconcile(1, w, 'repair');
  p = await ping(CONTAINER_NS[1], encB, 3);
  check(p.received === 3 && repaired.errors.length === 0, `the next pass repairs the tampered node: ping ${p.out}`);

  // 6. Anti-replay: every ESP packet node 1 sends is duplicated on the wire (nft dup).
  const statBefore = await xfrmStat('h2');
  const dup = await inNs(
    'h1',
    'nft',
    ['-f', '-'],
    `table ip replay {\n chain out {\n  type filter hook output priority 100; policy accept;\n  ip protocol esp counter dup to ${ADDR(2)} device "u1"\n }\n}\n`,
  );
  p = await ping(CONTAINER_NS[1], encB, 5);
  info(
    `replay table: ${dup.stderr.trim()} ${(await inNs('h1', 'nft', ['list', 'table', 'ip', 'replay'])).stdout.replace(/\s+/g, ' ')}`,
  );
  await inNs('h1', 'nft', ['delete', 'table', 'ip', 'replay']);
  const statAfter = await xfrmStat('h2');
  const replays = (await states('h2')).filter((s) => s.dst === ADDR(2)).reduce((n, s) => n + (s.replayDropped ?? 0), 0);
  check(
    p.received === 5 && !p.dup && replays >= 5,
    `replayed ESP packets dropped: ping ${p.received}/5 without duplicates, SA replay counter ${replays}, XfrmInStateSeqError ${statBefore['XfrmInStateSeqError'] ?? 0} -> ${statAfter['XfrmInStateSeqError'] ?? 0}`,
  );
  const status = await readIpsecStatus(runners[2], specOf(2, w), {
    readXfrmStat: async () => (await inNs('h2', 'cat', ['/proc/net/xfrm_stat'])).stdout,
  });
  const tunnel = status?.tunnels.find((t) => t.nodeId === NODE_ID(1));
  check(
    tunnel?.state === 'up' && tunnel.replayDropped >= 5 && (status?.plaintextDropped ?? 0) > 0,
    `node 2's status (node inspect): tunnel ${tunnel?.state ?? '-'} rx ${tunnel?.rxPackets ?? 0} replays ${tunnel?.replayDropped ?? 0}, plaintext dropped ${status?.plaintextDropped ?? 0}`,
  );

  // 6b. A wrong key on the receiver (a stale or tampered SA): integrity failures, counted per
  //     tunnel; the next pass sees the key differ and replaces the SA.
  const victim = (await states('h2')).find((x) => x.src === ADDR(1) && (x.packets ?? 0) > 0);
  if (victim !== undefined) {
    const spiHex = `0x${victim.spi.toString(16).padStart(8, '0')}`;
    await must('ip', ['-n', 'h2', 'xfrm', 'state', 'delete', 'src', ADDR(1), 'dst', ADDR(2), 'proto', 'esp', 'spi', spiHex]);
    await must('ip', [
      ...['-n', 'h2', 'xfrm', 'state', 'add', 'src', ADDR(1), 'dst', ADDR(2), 'proto', 'esp', 'spi', spiHex, 'reqid', String(IPSEC_REQID)],
      ...['mode', 'transport', 'replay-window', '128', 'flag', 'esn', 'aead', 'rfc4106(gcm(aes))', `0x${'ab'.repeat(20)}`, '128'],
    ]);
    p = await ping(CONTAINER_NS[1], encB, 3);
    const wrong = await readIpsecStatus(runners[2], specOf(2, w), {
      readXfrmStat: async () => (await inNs('h2', 'cat', ['/proc/net/xfrm_stat'])).stdout,
    });
    const failedIcv = wrong?.tunnels.find((t) => t.nodeId === NODE_ID(1))?.integrityFailed ?? 0;
    await reconcile(2, w, 'wrong key repair');
    const fixed = await ping(CONTAINER_NS[1], encB, 3);
    check(
      p.received === 0 && failedIcv >= 3 && (wrong?.xfrmErrors['XfrmInStateProtoError'] ?? 0) >= 3 && fixed.received === 3,
      `a wrong key on the receiver: ping ${p.received}/3, IntegrityFailed ${failedIcv}, XfrmInStateProtoError ${wrong?.xfrmErrors['XfrmInStateProtoError'] ?? 0}; the next pass replaces the SA: ping ${fixed.received}/3`,
    );
  } else {
    bad('no inbound SA with traffic on node 2 for the wrong-key check');
  }

  // 7. Key rotation under a continuous ping; one node learns each new ring 1.5 s after the other.
  const keysSeen = new Map<string, string>();
  const remember = async (): Promise<void> => {
    for (const host of ['h1', 'h2']) {
      for (const s of await states(host)) {
        keysSeen.set(`${s.src}>${s.dst}#${s.spi}`, s.aead?.key ?? '');
      }
    }
  };
  await remember();
  const errBefore = [await xfrmStat('h1'), await xfrmStat('h2')];
  const txBefore = (await states('h1')).find((s) => s.src === ADDR(1));
  const pinger = inNs(CONTAINER_NS[1], 'ping', ['-i', '0.2', '-c', '75', '-W', '2', encB]);
  await sleep(1500);
  w.ring = rotateKeyRing(w.ring, Date.now());
  await reconcile(1, w, 'rotation 1');
  await sleep(1500);
  await reconcile(2, w, 'rotation 1');
  await remember();
  await sleep(1500);
  w.ring = rotateKeyRing(w.ring, Date.now());
  await reconcile(2, w, 'rotation 2');
  await sleep(1500);
  await reconcile(1, w, 'rotation 2');
  await remember();
  const rot = await pinger;
  await ping(CONTAINER_NS[1], encB, 3);
  const loss = /(\d+)% packet loss/.exec(rot.stdout)?.[1] ?? '?';
  const errAfter = [await xfrmStat('h1'), await xfrmStat('h2')];
  const bad1 = ['XfrmInNoStates', 'XfrmInStateProtoError', 'XfrmOutNoStates', 'XfrmOutPolBlock'].map((k) =>
    [0, 1].map((i) => (errAfter[i]?.[k] ?? 0) - (errBefore[i]?.[k] ?? 0)),
  );
  const txAfter = (await states('h1')).filter((s) => s.src === ADDR(1));
  check(loss === '0', `two rotations under a 5/s ping (a peer 1.5 s late each time): ${loss}% loss`);
  check(
    bad1.every(([a, b]) => a === 0 && b === 0),
    `no XFRM errors during rotation (InNoStates/InStateProtoError/OutNoStates/OutPolBlock deltas ${JSON.stringify(bad1)})`,
  );
  check(
    txAfter.length === 1 && txAfter[0]?.spi !== txBefore?.spi && (txAfter[0]?.packets ?? 0) > 0,
    `node 1 transmits on a new SA (${txBefore?.spi.toString(16)} -> ${txAfter[0]?.spi.toString(16)}, ${txAfter[0]?.packets ?? 0} packets), the old one is gone`,
  );

  // 8. Agent restart: a new driver finds every SA in place; nothing is re-created, counters go on.
  const txPackets = (await states('h1')).find((s) => s.src === ADDR(1))?.packets ?? 0;
  drivers[1] = newDriver(1);
  const restarted = await reconcile(1, w, 'restart');
  await ping(CONTAINER_NS[1], encB, 2);
  const txPacketsAfter = (await states('h1')).find((s) => s.src === ADDR(1))?.packets ?? 0;
  check(
    commandsOf(restarted) === 0 && txPacketsAfter >= txPackets + 2,
    `agent restart: ${commandsOf(restarted)} commands, tx SA kept (packets ${txPackets} -> ${txPacketsAfter})`,
  );

  // 9. Reboot of node 1: its kernel lost the SAs, its boot ID changed; its new outgoing SA has a
  //    new SPI and key (never a fresh sequence counter under an old key).
  await remember();
  await must('ip', ['-n', 'h1', 'xfrm', 'state', 'flush']);
  w.bootIds[1] = 'boot-1-b';
  await reconcile(1, w, 'reboot');
  await reconcile(2, w, 'peer rebooted');
  const rebootTx = (await states('h1')).find((s) => s.src === ADDR(1));
  const reused = [...keysSeen].some(
    ([id, key]) => id === `${ADDR(1)}>${ADDR(2)}#${String(rebootTx?.spi)}` || key === rebootTx?.aead?.key,
  );
  p = await ping(CONTAINER_NS[1], encB, 3);
  check(
    rebootTx !== undefined && !reused && p.received === 3,
    `after a reboot node 1 sends with a new SPI and key (reused: ${String(reused)}); ping ${p.out}`,
  );
  await remember();

  // 10. Every SA key is unique per tunnel and direction, and both ends agree.
  const all = [
    ...(await states('h1')).map((s) => ({ host: 'h1', s })),
    ...(await states('h2')).map((s) => ({ host: 'h2', s })),
  ];
  const byId = new Map<string, Set<string>>();
  for (const { s } of all) {
    const id = `${s.src}>${s.dst}#${s.spi}`;
    byId.set(id, (byId.get(id) ?? new Set()).add(s.aead?.key ?? ''));
  }
  const agree = [...byId.values()].every((k) => k.size === 1);
  const distinctKeys = new Set(keysSeen.values());
  check(
    agree && distinctKeys.size === keysSeen.size,
    `keys: both ends agree on all ${byId.size} SAs; ${keysSeen.size} SAs seen over the run, ${distinctKeys.size} distinct keys`,
  );

  // 11. A custom data port: everything moves to it, nothing left on 4789.
  w.port = 7789;
  await reconcile(1, w, 'port 7789');
  await reconcile(2, w, 'port 7789');
  wire = await capture('h2', 'u2', 'wire7789', async () => {
    p = await ping(CONTAINER_NS[1], encB, 5);
  });
  esp = await countPackets(wire, 'ip proto 50');
  clear = await countPackets(wire, `udp and udp[12:4] >> 8 = 4242`);
  const stalePolicies = parsePolicies(await must('ip', ['-n', 'h1', 'xfrm', 'policy', 'list'])).filter(
    (x) => x.mark?.value === IPSEC_MARK && x.dport !== 7789,
  );
  check(
    p.received === 5 && esp >= 5 && clear === 0 && stalePolicies.length === 0,
    `data port 7789: ping ${p.received}/5, ${esp} ESP, ${clear} plaintext VXLAN of VNI 4242, ${stalePolicies.length} policies left on 4789`,
  );
  before = await plaintextDropped('h2');
  await inject('h3', 4242, 7789, 5);
  await sleep(500);
  after = await plaintextDropped('h2');
  check(after - before >= 5, `plaintext on port 7789 dropped: ${before} -> ${after}`);

  // Optional bench: iperf3 plain vs encrypted (TCG makes absolute numbers meaningless).
  if (readFileSync('/proc/cmdline', 'utf8').includes('vxmesh.bench=1')) {
    await bench(encB, plainB);
  }

  // 12. Cleanup: the encrypted networks leave both nodes; nothing of ours stays.
  w.nets = new Set<NetName>(['plain']);
  await reconcile(1, w, 'cleanup');
  await reconcile(2, w, 'cleanup');
  const leftStates = [...(await states('h1')), ...(await states('h2'))].length;
  const leftPolicies = [
    ...parsePolicies(await must('ip', ['-n', 'h1', 'xfrm', 'policy', 'list'])),
    ...parsePolicies(await must('ip', ['-n', 'h2', 'xfrm', 'policy', 'list'])),
  ].filter((x) => x.mark?.value === IPSEC_MARK).length;
  const tables =
    (await inNs('h1', 'nft', ['list', 'tables'])).stdout + (await inNs('h2', 'nft', ['list', 'tables'])).stdout;
  p = await ping(CONTAINER_NS[1], plainB, 2);
  check(
    leftStates === 0 && leftPolicies === 0 && !tables.includes(IPSEC_NFT_TABLE) && p.received === 2,
    `encrypted networks gone: ${leftStates} SAs, ${leftPolicies} policies, IPsec table ${tables.includes(IPSEC_NFT_TABLE) ? 'left' : 'gone'}; plain network ping ${p.received}/2`,
  );
}

async function bench(encB: string, plainB: string): Promise<void> {
  const server = spawn('ip', ['netns', 'exec', CONTAINER_NS[2], 'iperf3', '-s'], { stdio: 'ignore' });
  await sleep(2000);
  const rate = async (dst: string): Promise<number> => {
    const r = await inNs(CONTAINER_NS[1], 'iperf3', ['-c', dst, '-t', '8', '-J']);
    try {
      return (
        (JSON.parse(r.stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received
          .bits_per_second / 1e6
      );
    } catch {
      return 0;
    }
  };
  const plain = await rate(plainB);
  const enc = await rate(encB);
  server.kill();
  console.log(
    `IPSEC-VM: BENCH plain=${plain.toFixed(1)}Mbit/s encrypted=${enc.toFixed(1)}Mbit/s ratio=${plain > 0 ? (enc / plain).toFixed(2) : '?'}`,
  );
}

try {
  await main();
} catch (err) {
  bad(`harness error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
}
console.log(`IPSEC-VM: DONE pass=${passed} fail=${failed} t=${at()}s`);
