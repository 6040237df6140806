import { describe, expect, it } from 'vitest';
import { checkLabels } from '../../../../src/manager/network/network-labels.js';
import { checkNetworkName } from '../../../../src/manager/network/network-name.js';
import { checkDriverOptions } from '../../../../src/manager/network/network-options.js';
import { parseVxlanIdList } from '../../../../src/manager/ipam/vni-space.js';

describe('network names', () => {
  it.each(['a', 'web', 'my-net', 'stack_default', 'A1', 'x'.repeat(63), '0net'])('accepts %j', (name) => {
    expect(() => checkNetworkName(name)).not.toThrow();
  });
  it.each(['', '-a', 'a-', '_a', 'a_', 'a.b', '..', 'a b', 'a;b', 'a\nb', 'ünï', 'x'.repeat(64), 'a/b', '$(x)'])(
    'refuses %j',
    (name) => {
      expect(() => checkNetworkName(name)).toThrow(/^invalid network name: /);
    },
  );
});

describe('labels', () => {
  it.each([{ a: '' }, { 'com.example.team': 'x y' }, { 'a/b-c_d.e': 'v' }, { k: 'é' }])('accepts %j', (labels) => {
    expect(() => checkLabels(labels, '--label')).not.toThrow();
  });
  it.each([
    { '': 'x' },
    { '.a': 'x' },
    { 'a.': 'x' },
    { 'a..b': 'x' },
    { 'a b': 'x' },
    { 'a=b': 'x' },
    { k: 'a\u0000' },
    { k: 'x'.repeat(4097) },
  ])('refuses %j', (labels) => {
    expect(() => checkLabels(labels, '--label')).toThrow(/^invalid --label: /);
  });
});

describe('driver options', () => {
  it.each([
    [{}, { shown: {}, mtu: 0, encrypted: false, vxlanIdList: undefined }],
    [
      { 'com.docker.network.driver.mtu': '68' },
      { shown: { 'com.docker.network.driver.mtu': '68' }, mtu: 68, encrypted: false, vxlanIdList: undefined },
    ],
    [
      { 'com.docker.network.driver.mtu': '65535' },
      { shown: { 'com.docker.network.driver.mtu': '65535' }, mtu: 65535, encrypted: false, vxlanIdList: undefined },
    ],
    [{ encrypted: '' }, { shown: { encrypted: '' }, mtu: 0, encrypted: true, vxlanIdList: undefined }],
    [{ encrypted: 'true' }, { shown: { encrypted: '' }, mtu: 0, encrypted: true, vxlanIdList: undefined }],
    [{ encrypted: 'false' }, { shown: {}, mtu: 0, encrypted: false, vxlanIdList: undefined }],
    [
      { 'com.docker.network.driver.overlay.vxlanid_list': '5000' },
      { shown: {}, mtu: 0, encrypted: false, vxlanIdList: '5000' },
    ],
  ])('%j', (options, expected) => {
    expect(checkDriverOptions(options)).toEqual(expected);
  });
  it.each([
    [{ 'com.docker.network.driver.mtu': '67' }, /must be an integer from 68 to 65535/],
    [{ 'com.docker.network.driver.mtu': '' }, /must be an integer/],
    [{ 'com.docker.network.driver.mtu': '1e3' }, /must be an integer/],
    [{ encrypted: '1' }, /must be empty, true or false/],
    [{ dsr: '' }, /unknown option "dsr"/],
  ])('refuses %j', (options, pattern) => {
    expect(() => checkDriverOptions(options)).toThrow(pattern);
  });
});

describe('vxlanid_list', () => {
  it.each([
    ['4096', 1, [4096]],
    ['5000, 5001', 2, [5000, 5001]],
    ['16777215', 1, [16777215]],
  ] as [string, number, number[]][])('%j for %i subnets', (text, n, vnis) => {
    expect(parseVxlanIdList(text, n)).toEqual(vnis);
  });
  it.each([
    ['4095', 1, /out of range/],
    ['0', 1, /out of range/],
    ['16777216', 1, /out of range/],
    ['', 1, /is not a VNI number/],
    ['-5', 1, /is not a VNI number/],
    ['5000,5000', 2, /given twice/],
    ['5000', 2, /1 VNI for 2 IPv4 subnets/],
  ] as [string, number, RegExp][])('refuses %j for %i subnets', (text, n, pattern) => {
    expect(() => parseVxlanIdList(text, n)).toThrow(pattern);
  });
});
