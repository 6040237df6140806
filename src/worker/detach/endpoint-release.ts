/** Who gave an endpoint up; kept in the pending record for logs and `node inspect`. */
export type EndpointReleaseOrigin = 'container' | 'attachment' | 'orphan';

/** An endpoint this node gives back to the managers, with what a warning or a pending record names. */
export interface EndpointRelease {
  readonly endpointId: string;
  readonly networkId: string;
  readonly networkName: string;
  /** The container or attachment the endpoint belonged to. */
  readonly ownerId: string;
  readonly ownerName: string;
  /** With prefix length; '' without IPv4. */
  readonly ipv4Address: string;
  readonly origin: EndpointReleaseOrigin;
}

/**
 * What became of a release: `released` when the managers confirmed the endpoint is gone (or was
 * already), `deferred` when they could not be asked or did not answer and the release is kept as
 * a pending detach on disk, retried until they confirm.
 */
export type ReleaseOutcome = { readonly state: 'released' } | { readonly state: 'deferred'; readonly reason: string };

/**
 * Gives an endpoint back for good: asks the managers once, and when that fails, records a pending
 * detach (fsynced) before resolving, so neither a failed call nor a daemon restart forgets it.
 * @throws only when the pending record cannot be written (the caller must then keep its own
 *   record of the endpoint), or when the managers refuse for good (PERMISSION_DENIED: not this
 *   node's endpoint).
 */
export type ReleaseEndpoint = (release: EndpointRelease) => Promise<ReleaseOutcome>;
