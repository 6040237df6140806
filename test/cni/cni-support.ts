/**
 * Runs the built `vxmesh-cni` plugin as a runtime does: the CNI environment, the network
 * configuration on stdin, the result or error object on stdout. Also makes throwaway "container"
 * namespaces named under the test hosts' prefix (so the sweeper removes what a crash leaves).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCommand } from '../support/command.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** The launcher a runtime executes (it runs dist/cni/vxmesh-cni.bundle.js). */
export const VXMESH_CNI = join(REPO_ROOT, 'bin/vxmesh-cni');
export const VXMESH_CNI_BUNDLE = join(REPO_ROOT, 'dist/cni/vxmesh-cni.bundle.js');

export interface CniCall {
  /** ADD, DEL, CHECK, STATUS, VERSION, GC, or anything else to test refusals. */
  readonly command: string;
  readonly containerId?: string;
  readonly netns?: string;
  readonly ifName?: string;
  readonly args?: string;
  /** The network configuration (one plugin's, as libcni hands it), or raw text. */
  readonly config: Record<string, unknown> | string;
  /** Replaces the whole environment (for tests of missing variables). */
  readonly env?: Record<string, string>;
}

export interface CniReply {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  /** stdout parsed, when it is JSON. */
  readonly json: Record<string, unknown> | undefined;
  /** Wall time of the plugin process. */
  readonly ms: number;
}

const CALL_TIMEOUT_MS = 90_000;

/** Executes the plugin once. Never rejects on a non-zero exit; rejects when it hangs. */
export function invokeCni(call: CniCall): Promise<CniReply> {
  if (!existsSync(VXMESH_CNI_BUNDLE)) {
    throw new Error(`${VXMESH_CNI_BUNDLE} is missing: run \`npm run build\` first`);
  }
  const env =
    call.env ??
    ({
      PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin',
      CNI_COMMAND: call.command,
      CNI_CONTAINERID: call.containerId ?? '',
      CNI_NETNS: call.netns ?? '',
      CNI_IFNAME: call.ifName ?? 'eth0',
      CNI_ARGS: call.args ?? '',
      CNI_PATH: join(REPO_ROOT, 'bin'),
    } satisfies Record<string, string>);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(VXMESH_CNI, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`vxmesh-cni ${call.command} did not finish within ${CALL_TIMEOUT_MS} ms`));
    }, CALL_TIMEOUT_MS);
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.on('error', () => undefined);
    child.stdin.end(typeof call.config === 'string' ? call.config : JSON.stringify(call.config));
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      let json: Record<string, unknown> | undefined;
      try {
        json = stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : undefined;
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json, ms: Date.now() - started });
    });
  });
}

/** The plugin's configuration for one daemon, as libcni passes it (name and cniVersion injected). */
export function pluginConfig(socket: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: '1.0.0', name: 'test-net', type: 'vxmesh-cni', network: 'test-net', socket, ...extra };
}

/** Creates a named network namespace with loopback up (what a runtime does before ADD). */
export async function createNetns(name: string): Promise<string> {
  await runCommand('ip', ['netns', 'add', name]);
  await runCommand('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  return `/run/netns/${name}`;
}

/** Deletes a named namespace; a missing one is fine. */
export async function deleteNetns(name: string): Promise<void> {
  await runCommand('ip', ['netns', 'del', name], { check: false });
}

/** The interface's global addresses inside a named namespace ([] when it is missing). */
export async function addressesIn(netns: string, ifName: string): Promise<string[]> {
  const res = await runCommand('ip', ['-n', netns, '-j', 'addr', 'show', 'dev', ifName], { check: false });
  if (res.exitCode !== 0) {
    return [];
  }
  const [link] = JSON.parse(res.stdout || '[]') as {
    addr_info?: { local: string; prefixlen: number; scope: string }[];
  }[];
  return (link?.addr_info ?? []).filter((a) => a.scope === 'global').map((a) => `${a.local}/${a.prefixlen}`);
}
