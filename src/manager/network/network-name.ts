import { InvalidArgumentError } from '../../common/errors.js';

/**
 * Network names: 1 to 63 characters of ASCII letters, digits, '-' and '_', starting and ending
 * with a letter or digit. That is an RFC 1123 DNS label plus '_', which `docker stack deploy`
 * puts in the networks it creates (`<stack>_<network>`). No dots (a name never looks like a
 * domain or a path: no '..'), no spaces, quotes, ';' or newlines, nothing outside ASCII, so a
 * name can be used unescaped in device names, nft/ip arguments and DNS. Case is kept and
 * matters (as in docker).
 */
export const NETWORK_NAME_PATTERN = /^[A-Za-z0-9](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?$/;

/** @throws InvalidArgumentError naming the value and the rule. */
export function checkNetworkName(name: string): void {
  if (!NETWORK_NAME_PATTERN.test(name)) {
    const shown = JSON.stringify(name.length > 80 ? `${name.slice(0, 80)}…` : name);
    throw new InvalidArgumentError(
      'network name',
      `${shown}: a name is 1-63 ASCII letters, digits, '-' or '_', starting and ending with a letter or digit`,
    );
  }
}
