// Cost of the PKI operations a join performs: RSA-2048 (what vxmesh uses, certificates built by
// node-forge) against ECDSA P-256 through Node's crypto (what Swarm uses; node-forge cannot sign
// with it). Run: node --import tsx bench/pki.ts
import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { generateKeyAndCsr } from '../src/common/tls/key-pair.js';
import { createRootCa, signNodeCertificate } from '../src/manager/ca/certificate-authority.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

async function time(n: number, fn: () => unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await fn();
    out.push(performance.now() - t);
  }
  return out;
}

export async function runPkiBench(): Promise<void> {
  const ca = await createRootCa('bench', Date.now());
  const csrs: string[] = [];
  const keygen = await time(20, async () => csrs.push((await generateKeyAndCsr()).csrPem));
  let i = 0;
  const signing = await time(20, () =>
    signNodeCertificate(ca, { csrPem: csrs[i++ % csrs.length] ?? '', nodeId: 'n', role: 'worker', clusterId: 'bench', now: Date.now(), validityMs: 3600_000 * 24 }),
  );
  const ecKeygen = await time(20, () => generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const msg = Buffer.alloc(512, 1);
  const ecSign = await time(200, () => sign('sha256', msg, privateKey));
  const sig = sign('sha256', msg, privateKey);
  const ecVerify = await time(200, () => verify('sha256', msg, publicKey, sig));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const rsaSign = await time(200, () => sign('sha256', msg, rsa.privateKey));
  const rsaSig = sign('sha256', msg, rsa.privateKey);
  const rsaVerify = await time(200, () => verify('sha256', msg, rsa.publicKey, rsaSig));
  const f = (xs: number[]): string => `${median(xs).toFixed(2)} ms`;
  console.log(`RSA-2048 key + CSR (native keygen, forge CSR), median of 20: ${f(keygen)}`);
  console.log(`node certificate signed by node-forge (RSA CA), median of 20: ${f(signing)}`);
  console.log(`ECDSA P-256 keygen (node:crypto), median of 20: ${f(ecKeygen)}`);
  console.log(`TLS-handshake-sized signature: RSA-2048 sign ${f(rsaSign)} verify ${f(rsaVerify)}; P-256 sign ${f(ecSign)} verify ${f(ecVerify)}`);
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  await runPkiBench();
}
