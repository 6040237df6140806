import { InvalidArgumentError as FlagValueError } from 'commander';
import { describe, expect, it } from 'vitest';
import {
  parseConstraintFlag,
  parseCountFlag,
  parseDelayFlag,
  parseParallelismFlag,
  parsePublishFlag,
  parsePublishRemoveFlag,
  parseRestartDelayFlag,
  parseServiceName,
  parseServiceNetworkFlag,
} from '../../../src/cli/service-flag-values.js';
import { PublishMode } from '../../../src/gen/vxmesh/v1/service.js';

const { PUBLISH_MODE_INGRESS: INGRESS, PUBLISH_MODE_HOST: HOST } = PublishMode;

const port = (publishedPort: number, targetPort: number, protocol = 'tcp', publishMode = INGRESS) => ({
  protocol,
  targetPort,
  publishedPort,
  publishMode,
});

describe('service flag values', () => {
  describe('--publish', () => {
    it.each([
      ['8080:80', [port(8080, 80)]],
      ['53:53/udp', [port(53, 53, 'udp')]],
      ['80', [port(0, 80)]],
      ['8080-8081:80-81', [port(8080, 80), port(8081, 81)]],
      ['8080-8081:80', [port(8080, 80), port(8081, 80)]],
      ['80-81/udp', [port(0, 80, 'udp'), port(0, 81, 'udp')]],
      ['published=8080,target=80', [port(8080, 80)]],
      ['target=80', [port(0, 80)]],
      ['published=5353,target=53,protocol=udp,mode=host', [port(5353, 53, 'udp', HOST)]],
      ['Published=8080,TARGET=80,Mode=Ingress', [port(8080, 80)]],
      ['"published=8080","target=80"', [port(8080, 80)]],
    ])('reads %s as docker does', (value, expected) => {
      expect(parsePublishFlag(value, undefined)).toEqual(expected);
    });

    it('accumulates repeated flags', () => {
      expect(parsePublishFlag('9090:90', parsePublishFlag('8080:80', undefined))).toEqual([
        port(8080, 80),
        port(9090, 90),
      ]);
    });

    it.each([
      ['80:x', 'Invalid target port "x"'],
      ['x:80', 'Invalid published port "x"'],
      ['0:80', 'Invalid published port "0"'],
      ['8080:70000', 'Invalid target port "70000"'],
      ['10.0.0.1:8080:80', 'A host IP is not supported'],
      ['8080:80/sctp', 'Invalid protocol "sctp"; vxmesh publishes tcp or udp.'],
      ['8080-8082:80-81', 'the published and target ranges differ in length'],
      ['8081-8080:80', 'the end is before the start'],
      ['published=8080', 'Missing mandatory field "target".'],
      ['published=8080,target=80,color=red', 'Invalid field key "color"'],
      ['target=80,mode=bridge', 'Invalid publish mode "bridge"; must be either ingress or host.'],
      ['target=80,protocol=icmp', 'Invalid protocol "icmp"'],
      ['published=x1,target=80', 'Invalid published port "x1"'],
      ['target=80,published', 'Invalid field "published"; expected key=value.'],
      ['"target=80', 'Unterminated quoted field.'],
    ])('refuses %s: %s', (value, message) => {
      expect(() => parsePublishFlag(value, undefined)).toThrow(FlagValueError);
      expect(() => parsePublishFlag(value, undefined)).toThrow(message);
    });
  });

  describe('--publish-rm', () => {
    it.each([
      ['80', [{ either: 80 }]],
      ['53/udp', [{ either: 53, protocol: 'udp' }]],
      ['8080:80', [{ published: 8080, target: 80 }]],
      ['published=8080', [{ published: 8080 }]],
      ['target=80,protocol=udp,mode=host', [{ target: 80, protocol: 'udp', mode: 'host' }]],
    ])('reads %s', (value, expected) => {
      expect(parsePublishRemoveFlag(value, undefined)).toEqual(expected);
    });

    it.each([
      ['x', 'Invalid port "x"'],
      ['protocol=udp', 'Name the port to remove with published= or target=.'],
      ['1:2:3', 'Expected PORT[/PROTO], PUBLISHED:TARGET[/PROTO] or published=P.'],
      ['80/sctp', 'Invalid protocol "sctp"'],
    ])('refuses %s', (value, message) => {
      expect(() => parsePublishRemoveFlag(value, undefined)).toThrow(message);
    });
  });

  describe('--network', () => {
    it('takes a name or ID as is', () => {
      expect(parseServiceNetworkFlag('backend', undefined)).toEqual([{ network: 'backend', aliases: [] }]);
    });

    it("reads docker's long syntax with aliases", () => {
      expect(
        parseServiceNetworkFlag('name=backend,alias=api,alias=api-v2', [{ network: 'front', aliases: [] }]),
      ).toEqual([
        { network: 'front', aliases: [] },
        { network: 'backend', aliases: ['api', 'api-v2'] },
      ]);
    });

    it.each([
      ['alias=api', 'Network name/id is not specified (name=NET).'],
      ['name=backend,ip=10.0.0.5', 'The field "ip" is not supported for services (only name and alias).'],
      ['name=backend,driver-opt=a=b', 'The field "driver-opt" is not supported'],
      ['name=backend,colour=blue', 'Invalid field key "colour"; expected name or alias.'],
      ['name=backend,alias=', 'Invalid alias ""'],
      [' ', 'Expected a network name or ID'],
    ])('refuses %s', (value, message) => {
      expect(() => parseServiceNetworkFlag(value, undefined)).toThrow(message);
    });
  });

  describe('--constraint', () => {
    it.each([
      'node.role==manager',
      'node.hostname!=worker2',
      'node.id == 38ciaotwjuritcdtn9npbnkuz',
      'NODE.ROLE==Worker',
    ])('accepts %s', (value) => {
      expect(parseConstraintFlag(value, ['node.role!=worker'])).toEqual(['node.role!=worker', value.trim()]);
    });

    it.each([
      'node.labels.zone==a',
      'node.role=manager',
      'node.role==',
      'node.role==boss',
      'engine.labels.x==y',
      'node.hostname==a b',
      'node.id==a==b',
    ])('refuses %s', (value) => {
      expect(() => parseConstraintFlag(value, undefined)).toThrow(FlagValueError);
    });
  });

  describe('numbers, names and durations', () => {
    it('reads counts from 0', () => {
      expect(parseCountFlag('0')).toBe(0);
      expect(parseCountFlag('12')).toBe(12);
      expect(() => parseCountFlag('-1')).toThrow('Must be a whole number from 0 to 4294967295.');
      expect(() => parseCountFlag('1.5')).toThrow(FlagValueError);
      expect(() => parseCountFlag('4294967296')).toThrow(FlagValueError);
    });

    it('refuses a parallelism of 0, which the managers would read as 1', () => {
      expect(parseParallelismFlag('2')).toBe(2);
      expect(() => parseParallelismFlag('0')).toThrow('Must be at least 1 (vxmesh has no all-at-once updates).');
    });

    it('reads Go durations into milliseconds', () => {
      expect(parseDelayFlag('1m30s')).toBe(90_000n);
      expect(parseDelayFlag('0')).toBe(0n);
      expect(parseRestartDelayFlag('250ms')).toBe(250n);
      expect(() => parseDelayFlag('10')).toThrow(
        'missing or unknown unit in "10" (use h, m, s, ms, us or ns); expected a duration such as 10s',
      );
      expect(() => parseRestartDelayFlag('0s')).toThrow('Must be at least 1ms (0 would mean the default, 5s).');
    });

    it('checks service names as swarmkit does', () => {
      expect(parseServiceName('web_2-a')).toBe('web_2-a');
      for (const bad of ['-web', 'web-', 'we b', 'web.1', 'a'.repeat(64)]) {
        expect(() => parseServiceName(bad)).toThrow(FlagValueError);
      }
    });
  });
});
