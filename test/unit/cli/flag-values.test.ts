import { InvalidArgumentError as FlagValueError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  parseAddressWithoutPort,
  parseCertExpiry,
  parseCidrList,
  parseDataPathPort,
  parseEtcdEndpoints,
  parseHostPort,
  parsePoolMaskLength,
} from '../../../src/cli/flag-values.js';

describe('flag values', () => {
  it('accept data path ports 1024-49151 only', () => {
    expect(parseDataPathPort('1024')).toBe(1024);
    expect(parseDataPathPort('49151')).toBe(49151);
    for (const bad of ['1023', '49152', '4789.5', '-1', 'x', '', '0x1000']) {
      expect(() => parseDataPathPort(bad), bad).toThrow(FlagValueError);
    }
  });

  it('accept pool mask lengths 8-29 only', () => {
    expect(parsePoolMaskLength('24')).toBe(24);
    expect(() => parsePoolMaskLength('30')).toThrow(/from 8 to 29/);
    expect(() => parsePoolMaskLength('7')).toThrow(FlagValueError);
  });

  it('accumulate CIDRs across repeats and commas', () => {
    expect(parseCidrList('10.20.0.0/16', undefined)).toEqual(['10.20.0.0/16']);
    expect(parseCidrList('10.30.0.0/16, fd00::/48', ['10.20.0.0/16'])).toEqual([
      '10.20.0.0/16',
      '10.30.0.0/16',
      'fd00::/48',
    ]);
    for (const bad of ['10.0.0.0', '10.0.0.0/33', '10.0.0/8', 'fd00::/129', 'eth0/24', '']) {
      expect(() => parseCidrList(bad, undefined), bad).toThrow(/is not a CIDR/);
    }
  });

  it('accept addr[:port] with IPs, hostnames, interfaces and bracketed IPv6', () => {
    for (const good of [
      '10.0.0.1',
      '10.0.0.1:2377',
      'eth0',
      'eth0:4000',
      'mgr.example',
      '[fd00::1]:2377',
      'fd00::1',
      '[fd00::1]',
    ]) {
      expect(parseHostPort(good), good).toBe(good);
    }
    for (const bad of ['10.0.0.1:', '10.0.0.1:0', '10.0.0.1:65536', ':2377', '[10.0.0.1]:2377', 'a:b:c', 'a b']) {
      expect(() => parseHostPort(bad), bad).toThrow(FlagValueError);
    }
  });

  it('reject a port in --data-path-addr', () => {
    expect(parseAddressWithoutPort('192.168.1.5')).toBe('192.168.1.5');
    expect(parseAddressWithoutPort('fd00::5')).toBe('fd00::5');
    expect(() => parseAddressWithoutPort('192.168.1.5:4789')).toThrow(/Must not include a port/);
    expect(() => parseAddressWithoutPort('[fd00::5]:4789')).toThrow(/Must not include a port/);
  });

  it('accumulate etcd URLs and reject anything but http(s)', () => {
    expect(parseEtcdEndpoints('https://10.0.0.5:2379,http://e2:2379', undefined)).toEqual([
      'https://10.0.0.5:2379',
      'http://e2:2379',
    ]);
    for (const bad of ['10.0.0.5:2379', 'unix:///tmp/etcd', 'https://', '']) {
      expect(() => parseEtcdEndpoints(bad, undefined), bad).toThrow(/not an etcd URL/);
    }
  });

  it('parse --cert-expiry as a Go duration of at least an hour', () => {
    expect(parseCertExpiry('2160h')).toBe(2160 * 3_600_000);
    expect(parseCertExpiry('1h30m')).toBe(5_400_000);
    expect(() => parseCertExpiry('59m')).toThrow(/at least 1h/);
    expect(() => parseCertExpiry('90d')).toThrow(/expected a duration such as 2160h/);
  });
});
