/**
 * The Docker plugin protocol's messages as vxmesh reads and writes them (moby/libnetwork
 * docs/remote.md and docs/ipam.md; field names are Docker's). Requests are validated by the
 * handlers: every field may be missing or of the wrong type on the wire.
 */

/** `POST /Plugin.Activate` answer. */
export interface ActivateResponse {
  readonly Implements: readonly string[];
}

/** The body of every failure: Docker shows `Err` to the user. */
export interface ErrorResponse {
  readonly Err: string;
}

export interface NetworkCapabilities {
  readonly Scope: 'global' | 'local';
  readonly ConnectivityScope: 'global' | 'local';
}

/** One IPAM pool of a network, as Docker passes it to CreateNetwork. */
export interface IpamData {
  readonly AddressSpace?: string;
  /** CIDR, e.g. "10.9.0.0/24". */
  readonly Pool?: string;
  /** With prefix length, e.g. "10.9.0.1/24". */
  readonly Gateway?: string;
  readonly AuxAddresses?: Record<string, string>;
}

export interface JoinResponse {
  /** Absent: vxmesh puts the interface into the sandbox itself (Docker moves nothing). */
  readonly InterfaceName?: { readonly SrcName: string; readonly DstPrefix: string };
  readonly Gateway?: string;
  readonly DisableGatewayService?: boolean;
}

export interface IpamCapabilities {
  readonly RequiresMACAddress: boolean;
  readonly RequiresRequestReplay: boolean;
}

export interface AddressSpaces {
  readonly LocalDefaultAddressSpace: string;
  readonly GlobalDefaultAddressSpace: string;
}

export interface RequestPoolResponse {
  readonly PoolID: string;
  readonly Pool: string;
  readonly Data: Record<string, string>;
}

export interface RequestAddressResponse {
  readonly Address: string;
  readonly Data: Record<string, string>;
}

/** Docker's option key for the address type of a RequestAddress. */
export const REQUEST_ADDRESS_TYPE = 'RequestAddressType';
/** RequestAddress for a network's gateway. */
export const GATEWAY_ADDRESS_TYPE = 'com.docker.network.gateway';
/** CreateNetwork's map of `-o` options. */
export const GENERIC_OPTIONS = 'com.docker.network.generic';
/** `-o vxmesh.network=NAME` / `--ipam-opt vxmesh.network=NAME`: use an existing vxmesh network. */
export const VXMESH_NETWORK_OPTION = 'vxmesh.network';
/** Address spaces of the vxmesh IPAM driver. */
export const GLOBAL_ADDRESS_SPACE = 'vxmesh';
export const LOCAL_ADDRESS_SPACE = 'vxmesh-local';
/** Content type of every answer. */
export const PLUGIN_CONTENT_TYPE = 'application/vnd.docker.plugins.v1+json';
