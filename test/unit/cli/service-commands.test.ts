import { beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../../../src/cli/cli-program.js';
import type { ServiceCliContext } from '../../../src/cli/service-environment.js';
import {
  EndpointMode,
  PublishMode,
  RestartCondition,
  ServiceMode,
  ServiceSpec,
} from '../../../src/gen/vxmesh/v1/service.js';
import { TaskState } from '../../../src/gen/vxmesh/v1/task.js';
import { APPNET_ID, BACKEND2_ID, networkViews } from '../../cli/network-fixtures.js';
import { MANAGER_ID, clusterViews } from '../../cli/node-fixtures.js';
import { FAKE_SERVICE_TIME_MS, FakeDaemonApi, MemoryOutput, SteppingClock } from './fake-daemon-api.js';

// The service commands in-process, against an in-memory manager whose tasks converge at once
// (unless a test says otherwise) and a clock that jumps 200 ms per poll: flags to specs, call
// sequences, output, partial failures and exit codes. Rendering details are covered by
// service-format.test.ts, progress by service-progress.test.ts, the gRPC path by
// test/cli/service-cli.test.ts.

/** What `create` prints for a 2-replica service that converges at once (non-terminal). */
const CONVERGED_2 = [
  'overall progress: 0 out of 2 tasks',
  '1/2: running   [==================================================>]',
  '2/2: running   [==================================================>]',
  'overall progress: 2 out of 2 tasks',
  'verify: Waiting 1 seconds to verify that tasks are stable...',
  'verify: Service converged',
  '',
].join('\n');

describe('vxmesh service commands', () => {
  let daemon: FakeDaemonApi;
  let output: MemoryOutput;
  let clock: SteppingClock;
  let connections: number;
  let onSleep: ((sleeps: number) => void) | undefined;

  const run = (...argv: string[]): Promise<number> => {
    const ctx: ServiceCliContext = {
      output,
      connect: () => {
        connections += 1;
        return daemon;
      },
      clock,
      terminal: { isTerminal: false, columns: 80 },
      interrupts: () => ({ signal: new AbortController().signal, dispose: () => undefined }),
    };
    return runCli(argv, ctx);
  };

  /** A service created straight in the fake (its tasks running), as an earlier `create -d` would leave it. */
  const existing = async (spec: Partial<ServiceSpec>): Promise<void> => {
    await daemon.createService(ServiceSpec.create({ replicas: 2, command: ['sleep', '1d'], ...spec }));
    daemon.calls.length = 0;
  };

  beforeEach(() => {
    daemon = new FakeDaemonApi(clusterViews(), MANAGER_ID, networkViews());
    output = new MemoryOutput();
    connections = 0;
    onSleep = undefined;
    clock = new SteppingClock(FAKE_SERVICE_TIME_MS + 5_000, (sleeps) => onSleep?.(sleeps));
  });

  describe('create', () => {
    it('sends every flag as docker reads it, prints the ID, then follows the tasks until they converge', async () => {
      const code = await run(
        'service',
        'create',
        '--name',
        'web',
        '--replicas',
        '2',
        '--network',
        'appnet',
        '--network',
        'name=backend2,alias=api,alias=api2',
        '-p',
        '8080:80',
        '--publish',
        'published=5353,target=53,protocol=udp,mode=host',
        '--constraint',
        'node.role==worker',
        '--restart-condition',
        'on-failure',
        '--restart-delay',
        '2s',
        '--restart-max-attempts',
        '3',
        '--update-parallelism',
        '2',
        '--update-delay',
        '1m',
        '--label',
        'tier=front',
        '--',
        'python3',
        '-m',
        'http.server',
        '80',
      );
      expect(output.stderr).toBe('');
      expect(code).toBe(0);
      expect(output.stdout).toBe(`sweb000000000000000000000\n${CONVERGED_2}`);
      expect(daemon.createServiceRequests).toEqual([
        ServiceSpec.create({
          name: 'web',
          mode: ServiceMode.SERVICE_MODE_REPLICATED,
          replicas: 2,
          networks: [
            { network: 'appnet', aliases: [] },
            { network: 'backend2', aliases: ['api', 'api2'] },
          ],
          ports: [
            { protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
            { protocol: 'udp', targetPort: 53, publishedPort: 5353, publishMode: PublishMode.PUBLISH_MODE_HOST },
          ],
          endpointMode: EndpointMode.ENDPOINT_MODE_VIP,
          constraints: ['node.role==worker'],
          restartCondition: RestartCondition.RESTART_CONDITION_ON_FAILURE,
          command: ['python3', '-m', 'http.server', '80'],
          labels: { tier: 'front' },
          restartDelayMs: 2_000n,
          restartMaxAttempts: 3,
          updateParallelism: 2,
          updateDelayMs: 60_000n,
        }),
      ]);
      expect(connections).toBe(1);
    });

    it('takes options only before the command, as docker does', async () => {
      expect(await run('service', 'create', '--name', 'w', '-d', 'sleep', '-d', '5', '--name', 'x')).toBe(0);
      expect(daemon.createServiceRequests[0]?.command).toEqual(['sleep', '-d', '5', '--name', 'x']);
      expect(daemon.createServiceRequests[0]?.name).toBe('w');
    });

    it('prints only the ID with --detach, and waits silently with --quiet', async () => {
      expect(await run('service', 'create', '--name', 'a', '--detach', '--mode', 'global', 'agent')).toBe(0);
      expect(output.stdout).toBe('sa00000000000000000000000\n');
      expect(daemon.calls).toEqual(['createService a']);
      expect(daemon.createServiceRequests[0]?.mode).toBe(ServiceMode.SERVICE_MODE_GLOBAL);
      expect(daemon.createServiceRequests[0]?.replicas).toBe(0);

      output = new MemoryOutput();
      expect(await run('service', 'create', '--name', 'b', '-q', 'sleep', '1d')).toBe(0);
      expect(output.stdout).toBe('sb00000000000000000000000\n');
      expect(daemon.calls).toContain('listTasks service=sb00000000000000000000000 node=');
    });

    it('fails with the task errors when a task cannot be placed', async () => {
      daemon.autoConverge = false;
      onSleep = (sleeps) => {
        const record = daemon.services.get('sweb000000000000000000000');
        if (sleeps === 1 && record !== undefined) {
          daemon.tasks = [
            daemon.makeTask(
              record.service,
              { slot: 1 },
              TaskState.TASK_STATE_PENDING,
              'no suitable node (1 node not available: 1 down)',
            ),
          ];
        }
      };
      expect(
        await run('service', 'create', '--name', 'web', '--constraint', 'node.hostname==gone', 'sleep', '1d'),
      ).toBe(1);
      expect(output.stdout).toContain('1/1: no suitable node (1 node not available: 1 down)\n');
      expect(output.stderr).toBe(
        'Error: service sweb000000000000000000000 is not converging, tasks failing for 30s: ' +
          'web.1: no suitable node (1 node not available: 1 down) (see `vxmesh service ps sweb000000000000000000000`)\n',
      );
    });

    it.each([
      [['--replicas', '2'], "Error: required option '--name <NAME>' not specified\n"],
      [
        ['--name', 'web'],
        'Error: invalid command: no command given; write it after the options (vxmesh service create --name NAME [OPTIONS] CMD [ARG...])\n',
      ],
      [['--name', 'web.1', 'x'], "Error: option '--name <NAME>' argument 'web.1' is invalid."],
      [
        ['--name', 'w', '--mode', 'job', 'x'],
        "Error: option '--mode <mode>' argument 'job' is invalid. Allowed choices are replicated, global.\n",
      ],
      [
        ['--name', 'w', '--mode', 'global', '--replicas', '2', 'x'],
        'Error: invalid --replicas: replicas can only be used with replicated mode\n',
      ],
      [
        ['--name', 'w', '--replicas', 'two', 'x'],
        "Error: option '--replicas <N>' argument 'two' is invalid. Must be a whole number",
      ],
      [
        ['--name', 'w', '-p', '80:http', 'x'],
        "Error: option '-p, --publish <spec>' argument '80:http' is invalid. Invalid target port \"http\"",
      ],
      [
        ['--name', 'w', '-p', '8080:80', '-p', '8080:81', 'x'],
        'Error: invalid --publish: published port 8080/tcp is given more than once\n',
      ],
      [
        ['--name', 'w', '--endpoint-mode', 'dnsrr', '-p', '8080:80', 'x'],
        'Error: invalid --endpoint-mode: dnsrr cannot be used with ports published in ingress mode',
      ],
      [
        ['--name', 'w', '--network', 'appnet', '--network', 'appnet', 'x'],
        'Error: invalid --network: network "appnet" is specified multiple times\n',
      ],
      [
        ['--name', 'w', '--network', 'name=appnet,ip=10.0.0.9', 'x'],
        "Error: option '--network <NET>' argument 'name=appnet,ip=10.0.0.9' is invalid. The field \"ip\" is not supported",
      ],
      [
        ['--name', 'w', '--constraint', 'node.labels.zone==a', 'x'],
        "Error: option '--constraint <EXPR>' argument 'node.labels.zone==a' is invalid.",
      ],
      [
        ['--name', 'w', '--restart-condition', 'always', 'x'],
        "Error: option '--restart-condition <condition>' argument 'always' is invalid.",
      ],
      [
        ['--name', 'w', '--restart-delay', '5', 'x'],
        "Error: option '--restart-delay <duration>' argument '5' is invalid.",
      ],
      [
        ['--name', 'w', '--update-parallelism', '0', 'x'],
        "Error: option '--update-parallelism <N>' argument '0' is invalid. Must be at least 1",
      ],
      [['--name', 'w', '--label', '=x', 'x'], "Error: option '--label <K=V>' argument '=x' is invalid."],
    ])('refuses %j without contacting the daemon', async (args, message) => {
      expect(await run('service', 'create', ...args)).toBe(1);
      expect(output.stderr.startsWith(message)).toBe(true);
      expect(output.stderr.split('\n')).toHaveLength(2);
      expect(connections).toBe(0);
    });

    it("reports the managers' refusal as is", async () => {
      await existing({ name: 'web' });
      expect(await run('service', 'create', '--name', 'web', '-d', 'x')).toBe(1);
      expect(output.stderr).toBe('Error: service web already exists\n');
      expect(await run('service', 'create', '--name', 'api', '-d', '--network', 'nope', 'x')).toBe(1);
      expect(output.stderr).toContain('Error: network nope not found\n');
    });
  });

  describe('update', () => {
    beforeEach(async () => {
      await daemon.createService(
        ServiceSpec.create({
          name: 'web',
          replicas: 2,
          command: ['sleep', '1d'],
          networks: [{ network: 'appnet', aliases: [] }],
          ports: [
            { protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
            { protocol: 'udp', targetPort: 53, publishedPort: 5353, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
          ],
          constraints: ['node.role==worker'],
          labels: { tier: 'front', old: 'yes' },
          updateParallelism: 1,
        }),
      );
      daemon.calls.length = 0;
    });

    it('edits the spec it read, sends it with the version read, prints the name and follows the rollout', async () => {
      const read = daemon.services.get('sweb000000000000000000000');
      const code = await run(
        'service',
        'update',
        '--replicas',
        '3',
        '--network-add',
        'name=backend2,alias=db',
        '--network-rm',
        'appnet',
        '--publish-add',
        '9090:90',
        '--publish-add',
        'published=8080,target=81',
        '--publish-rm',
        '53/udp',
        '--constraint-rm',
        'node.role == worker',
        '--constraint-add',
        'node.hostname!=worker2',
        '--label-add',
        'tier=back',
        '--label-rm',
        'old',
        '--update-delay',
        '10s',
        '--force',
        'web',
      );
      expect(output.stderr).toBe('');
      expect(code).toBe(0);
      expect(output.stdout).toMatch(/^web\noverall progress: 0 out of 3 tasks\n[^]*verify: Service converged\n$/);
      expect(daemon.updateServiceRequests).toHaveLength(1);
      const request = daemon.updateServiceRequests[0];
      expect(request?.ref).toBe('sweb000000000000000000000');
      expect(request?.version).toBe(read?.version);
      expect(request?.spec).toEqual(
        ServiceSpec.create({
          ...read?.service.spec,
          replicas: 3,
          networks: [{ network: BACKEND2_ID, aliases: ['db'] }],
          ports: [
            // published 8080 replaced in place ("add or update"), 53/udp removed, 9090 added.
            { protocol: 'tcp', targetPort: 81, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
            { protocol: 'tcp', targetPort: 90, publishedPort: 9090, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
          ],
          constraints: ['node.hostname!=worker2'],
          labels: { tier: 'back' },
          forceUpdate: 1n,
          updateDelayMs: 10_000n,
        }),
      );
    });

    it('removes published ports by target or published port', async () => {
      expect(await run('service', 'update', '-d', '--publish-rm', '8080', 'web')).toBe(0);
      expect(daemon.updateServiceRequests[0]?.spec.ports.map((p) => p.publishedPort)).toEqual([5353]);
      expect(await run('service', 'update', '-d', '--publish-rm', 'target=53', 'web')).toBe(0);
      expect(daemon.updateServiceRequests[1]?.spec.ports).toEqual([]);
    });

    it('changes nothing but the update count with --detach and no flags', async () => {
      expect(await run('service', 'update', '--detach', 'web')).toBe(0);
      expect(output.stdout).toBe('web\n');
      expect(daemon.calls).toEqual(['getService web', 'updateService sweb000000000000000000000 version=101']);
    });

    it.each([
      [['--network-add', 'appnet'], 'Error: invalid --network-add: service is already attached to network appnet\n'],
      [['--network-add', 'nope'], 'Error: invalid --network-add: network nope not found\n'],
      [['--network-rm', 'nope'], 'Error: invalid --network-rm: network nope not found\n'],
      [
        ['--endpoint-mode', 'dnsrr'],
        'Error: invalid --endpoint-mode: dnsrr cannot be used with ports published in ingress mode',
      ],
      [['--publish-rm', 'x'], "Error: option '--publish-rm <port>' argument 'x' is invalid."],
    ])('refuses %j without updating', async (args, message) => {
      expect(await run('service', 'update', '-d', ...args, 'web')).toBe(1);
      expect(output.stderr.startsWith(message)).toBe(true);
      expect(daemon.updateServiceRequests).toEqual([]);
    });

    it('refuses --replicas for a global service, and names a service that does not exist', async () => {
      await existing({ name: 'agent', mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 0 });
      expect(await run('service', 'update', '--replicas', '2', 'agent')).toBe(1);
      expect(output.stderr).toBe('Error: invalid --replicas: replicas can only be used with replicated mode\n');
      output = new MemoryOutput();
      expect(await run('service', 'update', '--force', 'nope')).toBe(1);
      expect(output.stderr).toBe('Error: No such service: nope\n');
    });
  });

  describe('scale', () => {
    beforeEach(async () => {
      await existing({ name: 'web' });
      await existing({ name: 'api' });
      await existing({ name: 'agent', mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 0 });
    });

    it('scales each service, then follows each, as docker prints them', async () => {
      expect(await run('service', 'scale', 'web=3', 'api=0')).toBe(0);
      expect(output.stdout).toMatch(
        /^web scaled to 3\napi scaled to 0\noverall progress: 0 out of 3 tasks\n[^]*verify: Service converged\noverall progress: 0 out of 0 tasks\n[^]*verify: Service converged\n$/,
      );
      expect(daemon.updateServiceRequests.map((r) => [r.ref, r.spec.replicas])).toEqual([
        ['sweb000000000000000000000', 3],
        ['sapi000000000000000000000', 0],
      ]);
    });

    it('keeps going past services it cannot scale and reports each', async () => {
      expect(await run('service', 'scale', '-d', 'nope=1', 'web=x', 'agent=2', 'api=4')).toBe(1);
      expect(output.stdout).toBe('api scaled to 4\n');
      expect(output.stderr).toBe(
        'Error: nope: No such service: nope\n' +
          'Error: web: invalid replicas value x: expected a whole number from 0 to 4294967295\n' +
          'Error: agent: scale can only be used with replicated mode\n',
      );
    });

    it('refuses a malformed operand before scaling anything', async () => {
      expect(await run('service', 'scale', 'web=2', 'api')).toBe(1);
      expect(output.stderr).toBe("Error: invalid scale specifier: 'api': expected SERVICE=REPLICAS, such as web=3\n");
      expect(connections).toBe(0);
    });
  });

  describe('rm', () => {
    it('prints each removed name and reports the unknown ones', async () => {
      await existing({ name: 'web' });
      await existing({ name: 'api' });
      expect(await run('service', 'rm', 'web', 'nope', 'sapi')).toBe(1);
      expect(output.stdout).toBe('web\nsapi\n');
      expect(output.stderr).toBe('Error: No such service: nope\n');
      expect(daemon.services.size).toBe(0);
    });
  });

  describe('ls', () => {
    beforeEach(async () => {
      await existing({
        name: 'web',
        ports: [
          { protocol: 'tcp', targetPort: 80, publishedPort: 8080, publishMode: PublishMode.PUBLISH_MODE_INGRESS },
        ],
      });
      await existing({ name: 'agent', mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 0, command: ['agent'] });
    });

    it('prints the table, IDs, or JSON lines', async () => {
      expect(await run('service', 'ls')).toBe(0);
      expect(output.stdout).toBe(
        'ID             NAME      MODE         REPLICAS   IMAGE      PORTS\n' +
          'sagent000000   agent     global       2/2        agent\n' +
          'sweb00000000   web       replicated   2/2        sleep 1d   *:8080->80/tcp\n',
      );
      output = new MemoryOutput();
      expect(await run('service', 'list', '-q')).toBe(0);
      expect(output.stdout).toBe('sagent000000\nsweb00000000\n');
      output = new MemoryOutput();
      expect(await run('service', 'ls', '-q', '--format', 'json')).toBe(0);
      expect(output.stdout.split('\n')[0]).toBe(
        '{"ID":"sagent000000","Image":"agent","Mode":"global","Name":"agent","Ports":"","Replicas":"2/2"}',
      );
    });
  });

  describe('ps', () => {
    beforeEach(async () => {
      await existing({ name: 'web' });
      // A rolling update leaves the old tasks as history.
      const read = daemon.services.get('sweb000000000000000000000');
      await daemon.updateService('web', ServiceSpec.create({ ...read?.service.spec, forceUpdate: 1n }), 0n);
      await existing({ name: 'api', replicas: 1 });
    });

    it("lists every task of the services with docker's columns, history indented", async () => {
      expect(await run('service', 'ps', 'web', 'api')).toBe(0);
      expect(output.stdout).toBe(
        [
          'ID             NAME        IMAGE      NODE       DESIRED STATE   CURRENT STATE            ERROR     PORTS',
          't5api0000000   api.1       sleep 1d   worker1    Running         Running 5 seconds ago',
          't3web0000000   web.1       sleep 1d   worker1    Running         Running 5 seconds ago',
          't1web0000000    \\_ web.1   sleep 1d   worker1    Shutdown        Shutdown 5 seconds ago',
          't4web0000000   web.2       sleep 1d   manager1   Running         Running 5 seconds ago',
          't2web0000000    \\_ web.2   sleep 1d   manager1   Shutdown        Shutdown 5 seconds ago',
          '',
        ].join('\n'),
      );
    });

    it('filters by desired state, prints full IDs with -q, and reports unknown services after the table', async () => {
      expect(await run('service', 'ps', '-q', '-f', 'desired-state=running', 'web', 'nope')).toBe(1);
      expect(output.stdout).toBe('t3web00000000000000000000\nt4web00000000000000000000\n');
      expect(output.stderr).toBe('Error: no such service: nope\n');
    });

    it('prints nothing but the error when no service exists, and refuses bad filters', async () => {
      expect(await run('service', 'ps', 'nope')).toBe(1);
      expect(output.stdout).toBe('');
      expect(output.stderr).toBe('Error: no such service: nope\n');
      output = new MemoryOutput();
      expect(await run('service', 'ps', '-f', 'desired-state=dead', 'web')).toBe(1);
      expect(output.stderr).toBe(
        "Error: invalid filter 'desired-state=dead': expected running, shutdown or accepted\n",
      );
      output = new MemoryOutput();
      expect(await run('service', 'ps', '-f', 'label=x', 'web')).toBe(1);
      expect(output.stderr).toBe("Error: invalid filter 'label'\n");
    });
  });

  describe('inspect', () => {
    beforeEach(async () => {
      await existing({ name: 'web', networks: [{ network: 'appnet', aliases: [] }] });
    });

    it('prints what it found, then fails for the services that do not exist', async () => {
      expect(await run('service', 'inspect', 'web', 'nope')).toBe(1);
      const json = JSON.parse(output.stdout) as { ID: string; Spec: { TaskTemplate: { Networks: unknown } } }[];
      expect(json.map((s) => s.ID)).toEqual(['sweb000000000000000000000']);
      expect(json[0]?.Spec.TaskTemplate.Networks).toEqual([{ Target: APPNET_ID }]);
      expect(output.stderr).toBe('Error: no such service: nope\n');

      output = new MemoryOutput();
      expect(await run('service', 'inspect', 'nope')).toBe(1);
      expect(output.stdout).toBe('[]\n');
    });

    it('prints compact JSON with -f json, the pretty form with --pretty, and refuses both at once', async () => {
      expect(await run('service', 'inspect', '-f', 'json', 'sweb')).toBe(0);
      expect(output.stdout).toMatch(/^\[\{"ID":"sweb000000000000000000000","Version":\{"Index":101\},/);
      output = new MemoryOutput();
      expect(await run('service', 'inspect', '--pretty', 'web')).toBe(0);
      expect(output.stdout).toContain('\nNetworks: appnet \n');
      output = new MemoryOutput();
      expect(await run('service', 'inspect', '--pretty', '-f', 'json', 'web')).toBe(1);
      expect(output.stderr).toBe('Error: --format is incompatible with human friendly format (--pretty)\n');
    });
  });

  describe('logs', () => {
    it("prints each task's output prefixed with the task and node, and errors on stderr", async () => {
      await existing({ name: 'web', replicas: 1 });
      const [task] = daemon.tasks;
      daemon.taskOutput.set(task?.task.id ?? '', ['hello', 'world']);
      expect(await run('service', 'logs', '--tail', '1', 'web')).toBe(0);
      expect(output.stdout).toBe('web.1.t1web0000000@worker1    | world\n');
      expect(output.stderr).toBe('');
      expect(daemon.calls.some((c) => c.startsWith('serviceLogs ') && c.endsWith(' tail=1'))).toBe(true);
      output = new MemoryOutput();
      daemon.taskOutput.clear();
      expect(await run('service', 'logs', '--no-task-ids', 'web')).toBe(0);
      expect(output.stderr).toBe('web.1@worker1    | error: the task has no container on this node\n');
      output = new MemoryOutput();
      expect(await run('service', 'logs', '--tail', 'many', 'web')).toBe(1);
      expect(output.stderr).toContain('invalid tail');
      output = new MemoryOutput();
      expect(await run('service', 'logs', 'nope')).toBe(1);
      expect(output.stderr).toBe('Error: No such service: nope\n');
    });
  });

  it('lists the service commands in help', async () => {
    expect(await run('service', '--help')).toBe(0);
    for (const name of ['create', 'inspect', 'logs', 'ls|list', 'ps', 'rm|remove', 'scale', 'update']) {
      expect(output.stdout).toContain(`  ${name} `);
    }
  });
});
