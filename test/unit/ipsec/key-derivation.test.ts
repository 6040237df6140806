import { describe, expect, it } from 'vitest';
import { aeadKeyText, deriveTunnelKey, spiText } from '../../../src/vxlan/ipsec/key-derivation.js';

const KEY = Buffer.alloc(32, 0x11);
const A = { nodeId: 'node-a', addr: '192.0.2.1' };
const B = { nodeId: 'node-b', addr: '192.0.2.2' };
const C = { nodeId: 'node-c', addr: '192.0.2.3' };

describe('per-tunnel key derivation', () => {
  it('is pinned: both ends, any version of the agent, derive the same key, salt and SPI', () => {
    const k = deriveTunnelKey({ clusterKey: KEY, tag: 7, src: { ...A, bootId: 'boot-a' }, dst: B });
    // Changing the derivation breaks every mixed-version cluster: this value must never move.
    expect(aeadKeyText(k)).toBe(
      aeadKeyText(deriveTunnelKey({ clusterKey: Buffer.from(KEY), tag: 7, src: { ...A, bootId: 'boot-a' }, dst: B })),
    );
    expect(aeadKeyText(k)).toBe('0x787ddfad28b3c3c77cac379f595e94a321dc3046');
    expect(spiText(k.spi)).toBe('0xa55b53de');
  });

  it('gives every direction, peer, tag and sender boot its own key and SPI (CVE-2024-28860)', () => {
    const variants = [
      { tag: 7, src: { ...A, bootId: 'boot-a' }, dst: B },
      { tag: 7, src: { ...B, bootId: 'boot-b' }, dst: A },
      { tag: 7, src: { ...A, bootId: 'boot-a' }, dst: C },
      { tag: 7, src: { ...C, bootId: 'boot-c' }, dst: A },
      { tag: 8, src: { ...A, bootId: 'boot-a' }, dst: B },
      { tag: 7, src: { ...A, bootId: 'boot-a2' }, dst: B },
      { tag: 7, src: { ...A, bootId: 'boot-a', addr: '192.0.2.9' }, dst: B },
      { tag: 7, src: { ...A, bootId: '' }, dst: B },
    ];
    const keys = variants.map((v) => deriveTunnelKey({ clusterKey: KEY, ...v }));
    expect(new Set(keys.map(aeadKeyText)).size).toBe(variants.length);
    expect(new Set(keys.map((k) => k.spi)).size).toBe(variants.length);
    // Key and salt differ too, not just their concatenation.
    expect(new Set(keys.map((k) => k.key.toString('hex'))).size).toBe(variants.length);
    expect(new Set(keys.map((k) => k.salt.toString('hex'))).size).toBe(variants.length);
  });

  it('canonicalises addresses and keeps SPIs out of the reserved range', () => {
    const v6a = deriveTunnelKey({
      clusterKey: KEY,
      tag: 1,
      src: { nodeId: 'a', bootId: '', addr: '2001:db8::1' },
      dst: { nodeId: 'b', addr: '2001:db8::2' },
    });
    const v6b = deriveTunnelKey({
      clusterKey: KEY,
      tag: 1,
      src: { nodeId: 'a', bootId: '', addr: '2001:0db8:0:0::1' },
      dst: { nodeId: 'b', addr: '2001:db8:0::2' },
    });
    expect(aeadKeyText(v6a)).toBe(aeadKeyText(v6b));
    for (let tag = 0; tag < 2000; tag++) {
      const { spi } = deriveTunnelKey({ clusterKey: KEY, tag, src: { ...A, bootId: 'x' }, dst: B });
      expect(spi).toBeGreaterThanOrEqual(0x100);
      expect(spi).toBeLessThanOrEqual(0xffffffff);
    }
  });

  it('refuses a short cluster key', () => {
    expect(() => deriveTunnelKey({ clusterKey: Buffer.alloc(8), tag: 1, src: { ...A, bootId: '' }, dst: B })).toThrow(
      RangeError,
    );
  });
});
