import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../src/common/errors.js';
import { caDigestHex, generateJoinToken, parseJoinToken, tokensMatch } from '../../../../src/manager/ca/join-token.js';

const bundle = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';

describe('join tokens', () => {
  it('have Swarm shape and pin the CA bundle digest', () => {
    const token = generateJoinToken(bundle);
    expect(token).toMatch(/^SWMTKN-1-[0-9a-z]{50}-[0-9a-z]{25}$/);
    const parsed = parseJoinToken(token);
    expect(parsed.caDigestHex).toBe(caDigestHex(bundle));
    expect(parsed.secret).toHaveLength(25);
  });

  it('pads small values to the full width', () => {
    const token = generateJoinToken(bundle, (n) => Buffer.alloc(n));
    expect(token.endsWith('-0000000000000000000000000')).toBe(true);
  });

  it('differ in their secret every time', () => {
    const secrets = new Set(Array.from({ length: 100 }, () => parseJoinToken(generateJoinToken(bundle)).secret));
    expect(secrets.size).toBe(100);
  });

  it.each([
    ['wrong prefix', 'SWMTKX-1-aaa-bbb', /must start with SWMTKN-1-/],
    ['too few parts', 'SWMTKN-1-abc', /has 3 parts/],
    ['too many parts', `SWMTKN-1-${'a'.repeat(50)}-${'b'.repeat(25)}-c`, /has 5 parts/],
    ['bad version', `SWMTKN-3-${'a'.repeat(50)}-${'b'.repeat(25)}`, /version 3/],
    ['short digest', `SWMTKN-1-${'a'.repeat(49)}-${'b'.repeat(25)}`, /CA digest must be 50/],
    ['upper-case digest', `SWMTKN-1-${'A'.repeat(50)}-${'b'.repeat(25)}`, /CA digest must be 50/],
    ['long secret', `SWMTKN-1-${'a'.repeat(50)}-${'b'.repeat(26)}`, /secret must be 25/],
    ['digest beyond 256 bits', `SWMTKN-1-${'z'.repeat(50)}-${'b'.repeat(25)}`, /larger than a SHA-256/],
  ])('rejects %s', (_name, token, message) => {
    expect(() => parseJoinToken(token)).toThrow(InvalidArgumentError);
    expect(() => parseJoinToken(token)).toThrow(message);
  });

  it('compare whole tokens without leaking length', () => {
    const token = generateJoinToken(bundle);
    expect(tokensMatch(token, token)).toBe(true);
    expect(tokensMatch(`${token} `, token)).toBe(true);
    expect(tokensMatch(token.slice(0, -1), token)).toBe(false);
    expect(tokensMatch(generateJoinToken(bundle), token)).toBe(false);
  });
});
