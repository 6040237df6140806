import { InvalidArgumentError } from '../../common/errors.js';
import { VXLANID_LIST_OPTION } from '../ipam/vni-space.js';

export const MTU_OPTION = 'com.docker.network.driver.mtu';
export const ENCRYPTED_OPTION = 'encrypted';
/** Smallest IPv4 MTU (RFC 791) and the largest a link can have. */
export const MTU_MIN = 68;
export const MTU_MAX = 65535;

const KNOWN = [MTU_OPTION, ENCRYPTED_OPTION, VXLANID_LIST_OPTION] as const;

/** Driver options (`-o/--opt`) after validation. */
export interface DriverOptions {
  /** What the record shows under Options (before the chosen VNIs are written back). */
  readonly shown: Record<string, string>;
  /** 0 when not set. */
  readonly mtu: number;
  readonly encrypted: boolean;
  /** The raw `vxlanid_list` value when given; parsed once the IPv4 subnet count is known. */
  readonly vxlanIdList: string | undefined;
}

/**
 * Validates `-o` options of the overlay driver. Known: `com.docker.network.driver.mtu`
 * (decimal, 68-65535), `encrypted` (empty, `true` or `false`; docker treats any value, even
 * `false`, as on, which we don't) and `com.docker.network.driver.overlay.vxlanid_list`.
 * Anything else is refused rather than silently ignored.
 * @throws InvalidArgumentError naming `-o <key>` and the value.
 */
export function checkDriverOptions(options: Readonly<Record<string, string>>): DriverOptions {
  const shown: Record<string, string> = {};
  let mtu = 0;
  let encrypted = false;
  let vxlanIdList: string | undefined;
  for (const [key, value] of Object.entries(options)) {
    switch (key) {
      case MTU_OPTION: {
        const n = /^[0-9]{1,6}$/.test(value.trim()) ? Number(value.trim()) : NaN;
        if (!(n >= MTU_MIN && n <= MTU_MAX)) {
          throw new InvalidArgumentError(
            `-o ${key}`,
            `${JSON.stringify(value)} must be an integer from ${MTU_MIN} to ${MTU_MAX}`,
          );
        }
        mtu = n;
        shown[key] = String(n);
        break;
      }
      case ENCRYPTED_OPTION: {
        const v = value.trim().toLowerCase();
        if (v !== '' && v !== 'true' && v !== 'false') {
          throw new InvalidArgumentError(`-o ${key}`, `${JSON.stringify(value)} must be empty, true or false`);
        }
        encrypted = v !== 'false';
        if (encrypted) {
          // docker shows `"encrypted": ""` for an encrypted overlay.
          shown[key] = '';
        }
        break;
      }
      case VXLANID_LIST_OPTION: {
        vxlanIdList = value;
        break;
      }
      default: {
        throw new InvalidArgumentError(
          '-o/--opt',
          `unknown option ${JSON.stringify(key)} for the overlay driver (known: ${KNOWN.join(', ')})`,
        );
      }
    }
  }
  return { shown, mtu, encrypted, vxlanIdList };
}
