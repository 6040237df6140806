/**
 * An isolated Podman for tests: its own containers.conf (CNI backend, a plugin directory holding
 * vxmesh-cni, a network config directory), its own storage (vfs) and tmpdir, all in one
 * temporary directory; and a busybox root filesystem from Debian's busybox-static (no image
 * pulls). Nothing of the machine's Podman configuration is read or changed.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCommand } from '../support/command.js';
import type { CommandResult } from '../support/command.js';
import { VXMESH_CNI } from './cni-support.js';

const BUSYBOX = '/bin/busybox';
/** Applets linked into the root filesystem. */
const APPLETS = ['sh', 'sleep', 'ping', 'ip', 'nslookup', 'wget', 'timeout', 'cat', 'hostname', 'ifconfig', 'true'];
/** Podman on this kind of machine cannot raise these limits to its defaults. */
export const PODMAN_ULIMITS = ['--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];
const PODMAN_TIMEOUT_MS = 60_000;

export interface TestPodman {
  readonly dir: string;
  /** Root filesystem for `podman run --rootfs`. */
  readonly rootfs: string;
  /** Where conflists go (containers.conf `network_config_dir`). */
  readonly networkConfigDir: string;
  /** Runs podman with this configuration; never rejects on a non-zero exit. */
  podman(args: readonly string[]): Promise<CommandResult>;
  /** Like {@link podman}, but rejects unless it exits 0; resolves to stdout. */
  podmanOk(args: readonly string[]): Promise<string>;
  /** Removes every container, then the directory. */
  destroy(): Promise<void>;
}

/** Why Podman cannot run here, or undefined when it can (podman, runc and busybox-static installed). */
export function podmanMissing(): string | undefined {
  for (const path of ['/usr/bin/podman', '/usr/sbin/runc', BUSYBOX]) {
    if (!existsSync(path)) {
      return `${path} is missing (Debian packages podman, runc, busybox-static)`;
    }
  }
  return undefined;
}

export async function createTestPodman(): Promise<TestPodman> {
  const dir = await mkdtemp(join(tmpdir(), 'vxt-podman-'));
  const rootfs = join(dir, 'rootfs');
  const pluginDir = join(dir, 'cni-bin');
  const networkConfigDir = join(dir, 'net.d');
  for (const d of [
    join(rootfs, 'bin'),
    join(rootfs, 'etc'),
    join(rootfs, 'tmp'),
    pluginDir,
    networkConfigDir,
    join(dir, 'tmp'),
  ]) {
    await mkdir(d, { recursive: true });
  }
  await copyFile(BUSYBOX, join(rootfs, 'bin/busybox'));
  await chmod(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of APPLETS) {
    await symlink('busybox', join(rootfs, 'bin', applet));
  }
  // As an installation would: the plugin directory links to the launcher.
  await symlink(VXMESH_CNI, join(pluginDir, 'vxmesh-cni'));
  const containersConf = join(dir, 'containers.conf');
  await writeFile(
    containersConf,
    [
      '[network]',
      'network_backend = "cni"',
      `cni_plugin_dirs = ["${pluginDir}"]`,
      `network_config_dir = "${networkConfigDir}"`,
      'default_network = "none"',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${join(dir, 'events.log')}"`,
      'runtime = "runc"',
      '',
    ].join('\n'),
  );
  const storageConf = join(dir, 'storage.conf');
  await writeFile(
    storageConf,
    [
      '[storage]',
      'driver = "vfs"',
      `runroot = "${join(dir, 'runroot')}"`,
      `graphroot = "${join(dir, 'graphroot')}"`,
      '',
    ].join('\n'),
  );
  const env = { ...process.env, CONTAINERS_CONF: containersConf, CONTAINERS_STORAGE_CONF: storageConf };
  const podman = async (args: readonly string[]): Promise<CommandResult> => {
    return await new Promise<CommandResult>((resolve, reject) => {
      const child = spawn('podman', ['--tmpdir', join(dir, 'tmp'), ...args], {
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`podman ${args.join(' ')} did not finish within ${PODMAN_TIMEOUT_MS} ms`));
      }, PODMAN_TIMEOUT_MS);
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      child.once('close', (exitCode) => {
        clearTimeout(timer);
        resolve({ stdout, stderr, exitCode });
      });
    });
  };
  return {
    dir,
    rootfs,
    networkConfigDir,
    podman,
    async podmanOk(args) {
      const res = await podman(args);
      if (res.exitCode !== 0) {
        throw new Error(`podman ${args.join(' ')} exited ${res.exitCode}: ${res.stderr.trim() || res.stdout.trim()}`);
      }
      return res.stdout;
    },
    async destroy() {
      await podman(['rm', '-af', '-t', '0']).catch(() => undefined);
      // Anything podman left mounted under the directory would make rm fail with EBUSY.
      const mounts = await runCommand('findmnt', ['-rn', '-o', 'TARGET'], { check: false });
      for (const target of mounts.stdout
        .split('\n')
        .filter((t) => t.startsWith(dir))
        .reverse()) {
        await runCommand('umount', ['-l', target], { check: false });
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
