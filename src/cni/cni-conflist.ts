import { DEFAULT_DAEMON_SOCKET } from './cni-config.js';
import { DEFAULT_CNI_VERSION } from './cni-version.js';

/** The plugin's `type`: runtimes execute `<CNI plugin dir>/<type>`, so it is the binary's name. */
export const CNI_PLUGIN_TYPE = 'vxmesh-cni';

export interface CniConflistOptions {
  /** The vxmesh network (name or ID). */
  readonly network: string;
  /** The CNI network name runtimes know it by; default: `network`. */
  readonly name?: string;
  readonly socket?: string;
  readonly cniVersion?: string;
  /** Serve the embedded resolver; default true. */
  readonly embeddedDns?: boolean;
}

/**
 * A network configuration list with the vxmesh plugin alone, declaring the `ips` and `aliases`
 * capabilities (static addresses and DNS aliases from the runtime, e.g. `podman run --ip` and
 * `--network-alias`).
 */
export function cniConflist(opts: CniConflistOptions): Record<string, unknown> {
  return {
    cniVersion: opts.cniVersion ?? DEFAULT_CNI_VERSION,
    name: opts.name ?? opts.network,
    plugins: [
      {
        type: CNI_PLUGIN_TYPE,
        network: opts.network,
        socket: opts.socket ?? DEFAULT_DAEMON_SOCKET,
        embeddedDns: opts.embeddedDns ?? true,
        capabilities: { ips: true, aliases: true },
      },
    ],
  };
}
