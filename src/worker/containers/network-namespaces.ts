import { access } from 'node:fs/promises';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCommand } from '../../common/run-command.js';

const NETNS_DIR = '/run/netns';

/** Whether a named network namespace exists. */
export async function namespaceExists(name: string): Promise<boolean> {
  try {
    await access(join(NETNS_DIR, name));
    return true;
  } catch {
    return false;
  }
}

/**
 * Creates a named network namespace with loopback up. An existing one (left by a killed daemon)
 * is reused as is, so a restart does not fail with "file exists".
 */
export async function ensureNamespace(name: string): Promise<void> {
  if (!(await namespaceExists(name))) {
    await runCommand('ip', ['netns', 'add', name]);
  }
  await runCommand('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
}

/** Deletes a named namespace and its per-namespace /etc files; a missing one is not an error. */
export async function deleteNamespace(name: string): Promise<void> {
  if (await namespaceExists(name)) {
    await runCommand('ip', ['netns', 'del', name]);
  }
  await rm(join('/etc/netns', name), { recursive: true, force: true });
}

/** Files `ip netns exec` bind-mounts over /etc inside the namespace (resolv.conf, hosts, hostname). */
export async function writeNamespaceEtc(name: string, files: Readonly<Record<string, string>>): Promise<void> {
  const dir = join('/etc/netns', name);
  await mkdir(dir, { recursive: true });
  for (const [file, content] of Object.entries(files)) {
    await writeFile(join(dir, file), content);
  }
}
