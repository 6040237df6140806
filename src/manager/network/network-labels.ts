import { InvalidArgumentError } from '../../common/errors.js';

/**
 * Label keys: 1-128 characters of ASCII letters, digits, '.', '-', '_' and '/', starting and
 * ending with a letter or digit, no '..' (docker recommends reverse-DNS keys such as
 * `com.example.team`). Values: at most 4096 characters, no control characters.
 */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9._/-]{0,126}[A-Za-z0-9])?$/;
export const MAX_LABEL_VALUE = 4096;

/**
 * Checks a map of labels (or of IPAM options, which follow the same rule) given with `flag`.
 * @throws InvalidArgumentError naming the flag and the key.
 */
export function checkLabels(labels: Readonly<Record<string, string>>, flag: string): void {
  for (const [key, value] of Object.entries(labels)) {
    if (!LABEL_KEY_PATTERN.test(key) || key.includes('..')) {
      throw new InvalidArgumentError(
        flag,
        `key ${JSON.stringify(key)}: keys are 1-128 ASCII letters, digits, '.', '-', '_' or '/', ` +
          'starting and ending with a letter or digit',
      );
    }
    // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
    if (value.length > MAX_LABEL_VALUE || /[\u0000-\u001f\u007f]/.test(value)) {
      throw new InvalidArgumentError(
        flag,
        `value of ${key}: at most ${MAX_LABEL_VALUE} characters and no control characters`,
      );
    }
  }
}
