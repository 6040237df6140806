/**
 * Entry point of the `vxmesh-cni` binary: a runtime executes it once per command with the CNI
 * environment and the network configuration on stdin (see docs/cni.md).
 */
import './quiet-logs.js';
import { GrpcCniDaemon } from './cni-daemon-grpc.js';
import { runCniPlugin } from './cni-plugin.js';

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    return '';
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function main(): Promise<void> {
  const stdin = await readStdin();
  const outcome = await runCniPlugin({ env: process.env, stdin, connect: (socket) => new GrpcCniDaemon(socket) });
  if (outcome.stdout) {
    process.stdout.write(`${outcome.stdout}\n`);
  }
  process.exitCode = outcome.exitCode;
}

void main();
