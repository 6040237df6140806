import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../src/common/errors.js';
import { EndpointMode, PublishMode, RestartCondition, ServiceMode, ServiceSpec } from '../../../src/gen/vxmesh/v1/service.js';
import { changesTasks, checkServiceSpec } from '../../../src/manager/services/service-spec-validation.js';

const spec = (extra: Partial<ServiceSpec> = {}): ServiceSpec => ServiceSpec.fromPartial({ name: 'web', command: ['run'], ...extra });

function fieldOf(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    if (err instanceof InvalidArgumentError) {
      return err.field;
    }
    throw err;
  }
  return '(none)';
}

describe('service spec validation', () => {
  it('fills in defaults', () => {
    const s = checkServiceSpec(spec({ ports: [{ protocol: 'TCP', targetPort: 80, publishedPort: 0, publishMode: PublishMode.PUBLISH_MODE_UNSPECIFIED }] }));
    expect(s.mode).toBe(ServiceMode.SERVICE_MODE_REPLICATED);
    expect(s.replicas).toBe(1);
    expect(s.endpointMode).toBe(EndpointMode.ENDPOINT_MODE_VIP);
    expect(s.restartCondition).toBe(RestartCondition.RESTART_CONDITION_ANY);
    expect(s.ports).toEqual([{ protocol: 'tcp', targetPort: 80, publishedPort: 0, publishMode: PublishMode.PUBLISH_MODE_INGRESS }]);
    expect(checkServiceSpec(spec({ mode: ServiceMode.SERVICE_MODE_REPLICATED, replicas: 0 })).replicas).toBe(0);
    expect(checkServiceSpec(spec({ mode: ServiceMode.SERVICE_MODE_GLOBAL })).replicas).toBe(0);
    expect(checkServiceSpec(spec({ name: 'stack_web-2', networks: [{ network: 'n', aliases: ['a.b', 'a.b'] }] })).networks).toEqual([
      { network: 'n', aliases: ['a.b'] },
    ]);
  });

  it('names the flag of each error', () => {
    const cases: [Partial<ServiceSpec>, string][] = [
      [{ name: 'a.b' }, 'name'],
      [{ name: 'x'.repeat(64) }, 'name'],
      [{ mode: 7 as ServiceMode }, 'mode'],
      [{ mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 1 }, 'replicas'],
      [{ networks: [{ network: '', aliases: [] }] }, 'network'],
      [{ networks: [{ network: 'n', aliases: ['-x'] }] }, 'network'],
      [{ networks: Array.from({ length: 11 }, (_v, i) => ({ network: `n${i}`, aliases: [] })) }, 'network'],
      [{ ports: Array.from({ length: 33 }, (_v, i) => ({ protocol: 'tcp', targetPort: 80, publishedPort: 1000 + i, publishMode: 1 })) }, 'publish'],
      [{ ports: [{ protocol: 'tcp', targetPort: 80, publishedPort: 80, publishMode: 9 as PublishMode }] }, 'publish'],
      [{ endpointMode: 5 as EndpointMode }, 'endpoint-mode'],
      [{ restartCondition: 9 as RestartCondition }, 'restart-condition'],
      [{ restartDelayMs: -1n }, 'restart-delay'],
      [{ updateDelayMs: -1n }, 'update-delay'],
      [{ command: [''] }, 'command'],
      [{ labels: { '-bad': 'x' } }, 'label'],
      [{ constraints: ['node.id'] }, 'constraint'],
    ];
    for (const [extra, field] of cases) {
      expect(fieldOf(() => checkServiceSpec(spec(extra))), JSON.stringify(extra, (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v))).toBe(field);
    }
    expect(fieldOf(() => checkServiceSpec(undefined))).toBe('spec');
  });

  it('tells which changes replace tasks', () => {
    const base = checkServiceSpec(spec({ networks: [{ network: 'n', aliases: [] }] }));
    expect(changesTasks(base, { ...base, replicas: 5, constraints: ['node.role==worker'], labels: { a: 'b' }, updateParallelism: 2 })).toBe(false);
    expect(changesTasks(base, { ...base, command: ['other'] })).toBe(true);
    expect(changesTasks(base, { ...base, networks: [{ network: 'n', aliases: ['x'] }] })).toBe(true);
    expect(changesTasks(base, { ...base, ports: [{ protocol: 'tcp', targetPort: 1, publishedPort: 1, publishMode: 1 }] })).toBe(true);
    expect(changesTasks(base, { ...base, endpointMode: EndpointMode.ENDPOINT_MODE_DNSRR })).toBe(true);
    expect(changesTasks(base, { ...base, forceUpdate: 1n })).toBe(true);
  });
});
