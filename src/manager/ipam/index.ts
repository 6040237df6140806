export { AddressAllocator } from './address-allocator.js';
export type { AddressAllocatorOptions, AllocateOptions } from './address-allocator.js';
export { loadNetworkUsage, usageFromKeys } from './address-usage.js';
export { formatAddress, formatCidr, parseAddress, parseCidr, cidrContains, cidrOverlaps } from './cidr.js';
export type { Cidr, IpAddress, IpFamily } from './cidr.js';
export { VNI_MAX, VNI_MIN, VXLANID_LIST_OPTION } from './vni-space.js';
