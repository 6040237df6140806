/**
 * The host of a "host:port", "[v6]:port", bare IPv6 or bare host address, without brackets.
 * Docker's node `Status.Addr` is an IP without a port while our records keep "host:port".
 */
export function hostPart(address: string): string {
  const bracketed = /^\[([^\]]*)\](?::\d*)?$/.exec(address);
  if (bracketed) {
    return bracketed[1] ?? '';
  }
  const colons = address.split(':').length - 1;
  // Two or more colons without brackets can only be a bare IPv6 address.
  return colons === 1 ? address.slice(0, address.indexOf(':')) : address;
}
