import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { InvalidArgumentError } from '../../common/errors.js';

/** Role a join token grants; decided by which of the two cluster tokens matched. */
export type JoinRole = 'worker' | 'manager';

/** A parsed `SWMTKN-1-<digest>-<secret>` token. */
export interface JoinToken {
  /** SHA-256 of the CA bundle the token pins, as 64 lowercase hex characters. */
  readonly caDigestHex: string;
  /** The secret part, exactly as written in the token (25 base-36 characters). */
  readonly secret: string;
}

const PREFIX = 'SWMTKN';
const VERSION = '1';
// ceil(log36(2^256)) and ceil(log36(2^128)): the lengths Swarm writes, so tokens look and parse alike.
const DIGEST_CHARS = 50;
const SECRET_CHARS = 25;
const SECRET_BYTES = 16;
const BASE36 = /^[0-9a-z]+$/;

function toBase36(bytes: Buffer, width: number): string {
  return BigInt(`0x${bytes.toString('hex')}`)
    .toString(36)
    .padStart(width, '0');
}

/** SHA-256 of the whole CA bundle: hashing all of it stops a MITM from appending roots of its own. */
export function caDigestHex(caBundlePem: string): string {
  return createHash('sha256').update(caBundlePem, 'utf8').digest('hex');
}

/** Makes a new token pinning `caBundlePem` with a fresh 128-bit secret from the CSPRNG. */
export function generateJoinToken(caBundlePem: string, random: (n: number) => Buffer = randomBytes): string {
  const digest = toBase36(Buffer.from(caDigestHex(caBundlePem), 'hex'), DIGEST_CHARS);
  const secret = toBase36(random(SECRET_BYTES), SECRET_CHARS);
  return `${PREFIX}-${VERSION}-${digest}-${secret}`;
}

/**
 * Parses a token's shape without checking it against any cluster.
 * @throws InvalidArgumentError naming `token` and what is wrong with it.
 */
export function parseJoinToken(token: string): JoinToken {
  const parts = token.trim().split('-');
  if (parts[0] !== PREFIX) {
    throw new InvalidArgumentError('token', `must start with ${PREFIX}-${VERSION}-`);
  }
  if (parts.length !== 4) {
    throw new InvalidArgumentError('token', `has ${parts.length} parts separated by '-', want 4`);
  }
  const [, version, digest = '', secret = ''] = parts;
  if (version !== VERSION) {
    throw new InvalidArgumentError('token', `version ${version ?? ''} is not supported (want ${VERSION})`);
  }
  if (digest.length !== DIGEST_CHARS || !BASE36.test(digest)) {
    throw new InvalidArgumentError('token', `CA digest must be ${DIGEST_CHARS} base-36 characters`);
  }
  if (secret.length !== SECRET_CHARS || !BASE36.test(secret)) {
    throw new InvalidArgumentError('token', `secret must be ${SECRET_CHARS} base-36 characters`);
  }
  const value = [...digest].reduce((acc, ch) => acc * 36n + BigInt(parseInt(ch, 36)), 0n);
  if (value >= 1n << 256n) {
    throw new InvalidArgumentError('token', 'CA digest is larger than a SHA-256 value');
  }
  return { caDigestHex: value.toString(16).padStart(64, '0'), secret };
}

/** Constant-time comparison of two tokens' secrets (and digests), so timing reveals nothing. */
export function tokensMatch(presented: string, expected: string): boolean {
  const a = Buffer.from(presented.trim());
  const b = Buffer.from(expected);
  // timingSafeEqual needs equal lengths; compare against itself to spend the same time when they differ.
  return a.length === b.length ? timingSafeEqual(a, b) : (timingSafeEqual(b, b), false);
}
