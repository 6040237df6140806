import { describe, expect, it } from 'vitest';
import type { ServiceRecord, TaskRecord } from '../../../src/cli/daemon-api.js';
import { goDurationString } from '../../../src/cli/service-duration-text.js';
import { dockerServiceJson, formatServiceInspect } from '../../../src/cli/service-inspect-json.js';
import { formatServicePretty } from '../../../src/cli/service-inspect-pretty.js';
import {
  formatServiceIds,
  formatServiceJsonLines,
  formatServiceTable,
  serviceListEntries,
  servicePortsText,
} from '../../../src/cli/service-list-format.js';
import { formatTaskJsonLines, formatTaskTable, taskListEntries } from '../../../src/cli/service-task-list-format.js';
import {
  EndpointMode,
  PortConfig,
  PublishMode,
  RestartCondition,
  Service,
  ServiceMode,
  ServiceSpec,
} from '../../../src/gen/vxmesh/v1/service.js';
import { Task, TaskState, TaskStatus } from '../../../src/gen/vxmesh/v1/task.js';

// Rendering of `service ls`, `service ps` and `service inspect` (JSON and --pretty), checked
// against docker's formatters (docker/cli cli/command/service/formatter.go, task/formatter.go).

/** 2026-08-01T16:00:00Z */
const T0 = 1_785_600_000_000;
const APPNET = 'q7m2wkd0e4x9v3n1b8c5z6a0l';
const BACKEND = 'p2k9xw4n1c6v8b0m3z5a7l9d2';

const ingress = (publishedPort: number, targetPort: number, protocol = 'tcp'): PortConfig =>
  PortConfig.create({ publishedPort, targetPort, protocol, publishMode: PublishMode.PUBLISH_MODE_INGRESS });
const host = (publishedPort: number, targetPort: number, protocol = 'tcp'): PortConfig =>
  PortConfig.create({ publishedPort, targetPort, protocol, publishMode: PublishMode.PUBLISH_MODE_HOST });

function record(spec: Partial<ServiceSpec>, extra: Partial<Service> = {}, counts = [3, 3]): ServiceRecord {
  const fullSpec = ServiceSpec.create({
    mode: ServiceMode.SERVICE_MODE_REPLICATED,
    replicas: 3,
    endpointMode: EndpointMode.ENDPOINT_MODE_VIP,
    restartCondition: RestartCondition.RESTART_CONDITION_ANY,
    updateParallelism: 1,
    ...spec,
  });
  const service = Service.create({
    id: `${fullSpec.name}${'x'.repeat(25)}`.slice(0, 25),
    spec: fullSpec,
    specVersion: 1n,
    createdAt: BigInt(T0),
    updatedAt: BigInt(T0 + 1500),
    ...extra,
  });
  return {
    service: { ...service, spec: fullSpec },
    version: 42n,
    runningTasks: counts[0] ?? 0,
    desiredTasks: counts[1] ?? 0,
  };
}

function task(fields: Partial<Task>, status: Partial<TaskStatus>, nodeHostname = 'worker1'): TaskRecord {
  const t = Task.create({
    serviceName: 'web',
    serviceId: 'webxxxxxxxxxxxxxxxxxxxxxx',
    desiredState: TaskState.TASK_STATE_RUNNING,
    command: ['python3', '-m', 'http.server', '80'],
    specVersion: 1n,
    ...fields,
  });
  return { task: { ...t, status: TaskStatus.create(status) }, nodeHostname };
}

describe('service ls', () => {
  it("lays out docker's table, sorted by name, with the command for IMAGE", () => {
    const entries = serviceListEntries([
      record({ name: 'web10', command: ['sleep', '1d'] }, {}, [1, 2]),
      record({ name: 'web2', command: ['python3', '-m', 'http.server', '8080'], ports: [ingress(8080, 8080)] }),
      record({ name: 'agent', mode: ServiceMode.SERVICE_MODE_GLOBAL, replicas: 0, command: ['agent'] }, {}, [2, 3]),
    ]);
    expect(formatServiceTable(entries)).toBe(
      'ID             NAME      MODE         REPLICAS   IMAGE                  PORTS\n' +
        'agentxxxxxxx   agent     global       2/3        agent\n' +
        'web2xxxxxxxx   web2      replicated   3/3        python3 -m http.ser…   *:8080->8080/tcp\n' +
        'web10xxxxxxx   web10     replicated   1/2        sleep 1d\n',
    );
    expect(formatServiceIds(entries)).toBe('agentxxxxxxx\nweb2xxxxxxxx\nweb10xxxxxxx\n');
    expect(formatServiceJsonLines(entries.slice(0, 1))).toBe(
      '{"ID":"agentxxxxxxx","Image":"agent","Mode":"global","Name":"agent","Ports":"","Replicas":"2/3"}\n',
    );
  });

  it.each([
    [[ingress(8080, 80)], '*:8080->80/tcp'],
    [[ingress(80, 80), ingress(81, 81), ingress(82, 82)], '*:80-82->80-82/tcp'],
    [[ingress(80, 80), ingress(81, 80)], '*:80-81->80/tcp'],
    [[ingress(80, 80), ingress(81, 81), ingress(82, 80)], '*:80-81->80-81/tcp, *:82->80/tcp'],
    [[ingress(53, 53, 'udp'), ingress(8080, 80), ingress(53, 53)], '*:53->53/tcp, *:8080->80/tcp, *:53->53/udp'],
    [[host(8080, 80), ingress(9090, 90)], '*:9090->90/tcp'],
    [[host(8080, 80)], ''],
    [[ingress(81, 81), ingress(80, 80)], '*:80-81->80-81/tcp'],
  ])('shows ingress ports %j as %s', (ports, text) => {
    expect(servicePortsText(ports)).toBe(text);
  });
});

describe('service ps', () => {
  const now = T0 + 65_000;
  const tasks = [
    task(
      { id: 'a1'.padEnd(25, '1'), slot: 1, nodeId: 'n1', createdAt: BigInt(T0) },
      { state: TaskState.TASK_STATE_RUNNING, timestamp: BigInt(T0 + 5_000) },
    ),
    task(
      {
        id: 'b2'.padEnd(25, '2'),
        slot: 2,
        createdAt: BigInt(T0 + 10_000),
      },
      {
        state: TaskState.TASK_STATE_PENDING,
        timestamp: BigInt(T0 + 10_000),
        err: 'no suitable node (3 nodes not available: 1 drained, 2 down)',
      },
      '',
    ),
    task(
      {
        id: 'c1'.padEnd(25, '3'),
        slot: 1,
        nodeId: 'n2',
        desiredState: TaskState.TASK_STATE_SHUTDOWN,
        createdAt: BigInt(T0 - 60_000),
        hostPorts: [host(8080, 80), host(5353, 53, 'udp')],
      },
      { state: TaskState.TASK_STATE_FAILED, timestamp: BigInt(T0 - 1_000), err: 'task: non-zero exit (1)' },
      'worker2',
    ),
  ];

  it("lays out docker's table: slots together, newest first, earlier tasks indented", () => {
    expect(formatTaskTable(taskListEntries(tasks, true, now))).toBe(
      [
        'ID             NAME        IMAGE                  NODE      DESIRED STATE   CURRENT STATE                ERROR                              PORTS',
        'a11111111111   web.1       python3 -m http.ser…   worker1   Running         Running about a minute ago',
        'c13333333333    \\_ web.1   python3 -m http.ser…   worker2   Shutdown        Failed about a minute ago    "task: non-zero exit (1)"          *:8080->80/tcp,*:5353->53/udp',
        // docker cuts errors to 30 columns, the ellipsis included.
        'b22222222222   web.2       python3 -m http.ser…             Running         Pending 55 seconds ago       "no suitable node (3 nodes not…"',
        '',
      ].join('\n'),
    );
  });

  it('keeps everything whole with --no-trunc, and names global tasks by node ID', () => {
    const global = task(
      { id: 'd4'.padEnd(25, '4'), slot: 0, nodeId: 'e216jshn25ckzbvmwlnh5jr3g', serviceName: 'agent' },
      { state: TaskState.TASK_STATE_RUNNING, timestamp: BigInt(now) },
      'manager1',
    );
    expect(formatTaskJsonLines(taskListEntries([tasks[1] as TaskRecord, global], false, now))).toBe(
      '{"CurrentState":"Running less than a second ago","DesiredState":"Running","Error":"",' +
        `"ID":"${'d4'.padEnd(25, '4')}","Image":"python3 -m http.server 80","Name":"agent.e216jshn25ckzbvmwlnh5jr3g",` +
        '"Node":"manager1","Ports":""}\n' +
        '{"CurrentState":"Pending 55 seconds ago","DesiredState":"Running",' +
        '"Error":"\\"no suitable node (3 nodes not available: 1 drained, 2 down)\\"",' +
        `"ID":"${'b2'.padEnd(25, '2')}","Image":"python3 -m http.server 80","Name":"web.2","Node":"","Ports":""}\n`,
    );
  });
});

describe('service inspect', () => {
  const full = record(
    {
      name: 'web',
      labels: { tier: 'front', 'com.example.a': '' },
      networks: [
        { network: APPNET, aliases: ['www'] },
        { network: BACKEND, aliases: [] },
      ],
      ports: [ingress(8080, 80), host(5353, 53, 'udp')],
      constraints: ['node.role==worker'],
      restartCondition: RestartCondition.RESTART_CONDITION_ON_FAILURE,
      restartDelayMs: 2_500n,
      restartMaxAttempts: 3,
      command: ['python3', '-m', 'http.server', '80'],
      forceUpdate: 2n,
      updateParallelism: 2,
      updateDelayMs: 90_000n,
    },
    {
      virtualIps: [
        { networkId: APPNET, addr: '10.0.1.5/24' },
        { networkId: 'ingressxxxxxxxxxxxxxxxxxx', addr: '10.255.0.7/16' },
      ],
      updateStatus: {
        state: 'completed',
        startedAt: BigInt(T0 + 1000),
        completedAt: BigInt(T0 + 9000),
        message: 'update completed',
      },
      previousSpec: ServiceSpec.create({ name: 'web', replicas: 1, command: ['sleep', '1d'] }),
    },
  );

  it("writes docker's swarm.Service document, field by field", () => {
    expect(JSON.parse(formatServiceInspect([dockerServiceJson(full)]))).toEqual([
      {
        ID: 'webxxxxxxxxxxxxxxxxxxxxxx',
        Version: { Index: 42 },
        CreatedAt: '2026-08-01T16:00:00Z',
        UpdatedAt: '2026-08-01T16:00:01.5Z',
        Spec: {
          Name: 'web',
          Labels: { 'com.example.a': '', tier: 'front' },
          TaskTemplate: {
            ContainerSpec: { Command: ['python3', '-m', 'http.server', '80'] },
            RestartPolicy: { Condition: 'on-failure', Delay: 2_500_000_000, MaxAttempts: 3 },
            Placement: { Constraints: ['node.role==worker'] },
            Networks: [{ Target: APPNET, Aliases: ['www'] }, { Target: BACKEND }],
            ForceUpdate: 2,
          },
          Mode: { Replicated: { Replicas: 3 } },
          UpdateConfig: { Parallelism: 2, Delay: 90_000_000_000 },
          EndpointSpec: {
            Mode: 'vip',
            Ports: [
              { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
              { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' },
            ],
          },
        },
        PreviousSpec: {
          Name: 'web',
          Labels: {},
          TaskTemplate: {
            ContainerSpec: { Command: ['sleep', '1d'] },
            RestartPolicy: { Condition: 'any', Delay: 5_000_000_000, MaxAttempts: 0 },
            Placement: {},
            ForceUpdate: 0,
          },
          Mode: { Replicated: { Replicas: 1 } },
          UpdateConfig: { Parallelism: 1 },
          EndpointSpec: { Mode: 'vip' },
        },
        Endpoint: {
          Spec: {
            Mode: 'vip',
            Ports: [
              { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
              { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' },
            ],
          },
          Ports: [
            { Protocol: 'tcp', TargetPort: 80, PublishedPort: 8080, PublishMode: 'ingress' },
            { Protocol: 'udp', TargetPort: 53, PublishedPort: 5353, PublishMode: 'host' },
          ],
          VirtualIPs: [
            { NetworkID: APPNET, Addr: '10.0.1.5/24' },
            { NetworkID: 'ingressxxxxxxxxxxxxxxxxxx', Addr: '10.255.0.7/16' },
          ],
        },
        UpdateStatus: {
          State: 'completed',
          StartedAt: '2026-08-01T16:00:01Z',
          CompletedAt: '2026-08-01T16:00:09Z',
          Message: 'update completed',
        },
      },
    ]);
  });

  it("keeps docker's key order and indents with 4 spaces", () => {
    const text = formatServiceInspect([dockerServiceJson(full)]);
    expect(text.startsWith('[\n    {\n        "ID": "webxxxxxxxxxxxxxxxxxxxxxx",\n        "Version": {\n')).toBe(true);
    expect(Object.keys((JSON.parse(text) as Record<string, unknown>[])[0] ?? {})).toEqual([
      'ID',
      'Version',
      'CreatedAt',
      'UpdatedAt',
      'Spec',
      'PreviousSpec',
      'Endpoint',
      'UpdateStatus',
    ]);
    expect(formatServiceInspect([], true)).toBe('[]\n');
  });

  it('shows a global dnsrr service without VIPs or ports', () => {
    const json = dockerServiceJson(
      record({
        name: 'agent',
        mode: ServiceMode.SERVICE_MODE_GLOBAL,
        replicas: 0,
        endpointMode: EndpointMode.ENDPOINT_MODE_DNSRR,
        command: ['agent'],
      }),
    );
    expect(json.Spec.Mode).toEqual({ Global: {} });
    expect(json.Endpoint).toEqual({ Spec: { Mode: 'dnsrr' } });
    expect(json).not.toHaveProperty('PreviousSpec');
    expect(json).not.toHaveProperty('UpdateStatus');
  });

  it("prints --pretty as docker's template does, tabs and all", () => {
    const names = new Map([[APPNET, 'appnet']]);
    expect(formatServicePretty(full, names, T0 + 70_000)).toBe(
      '\nID:\t\twebxxxxxxxxxxxxxxxxxxxxxx\n' +
        'Name:\t\tweb\n' +
        'Labels:\n com.example.a\n tier=front\n' +
        'Service Mode:\tReplicated\n Replicas:\t3\n' +
        'UpdateStatus:\n State:\t\tcompleted\n Started:\tAbout a minute ago\n Completed:\tAbout a minute ago\n' +
        ' Message:\tupdate completed\n' +
        'Placement:\n Constraints:\t[node.role==worker]\n' +
        'UpdateConfig:\n Parallelism:\t2\n Delay:\t\t1m30s\n' +
        'ContainerSpec:\n Command:\tpython3 -m http.server 80 \n' +
        `Networks: appnet ${BACKEND} \n` +
        'Endpoint Mode:\tvip\n' +
        'Ports:\n' +
        ' PublishedPort = 8080\n  Protocol = tcp\n  TargetPort = 80\n  PublishMode = ingress\n' +
        ' PublishedPort = 5353\n  Protocol = udp\n  TargetPort = 53\n  PublishMode = host \n\n',
    );
  });

  it('prints --pretty of a minimal global service', () => {
    expect(
      formatServicePretty(
        record({ name: 'agent', mode: ServiceMode.SERVICE_MODE_GLOBAL, command: ['agent'] }),
        new Map(),
        T0,
      ),
    ).toBe(
      '\nID:\t\tagentxxxxxxxxxxxxxxxxxxxx\nName:\t\tagent\nService Mode:\tGlobal\nPlacement:\n' +
        'UpdateConfig:\n Parallelism:\t1\nContainerSpec:\n Command:\tagent \nEndpoint Mode:\tvip\n\n',
    );
  });
});

describe('goDurationString', () => {
  it.each([
    [0n, '0s'],
    [1n, '1ms'],
    [500n, '500ms'],
    [1_500n, '1.5s'],
    [10_000n, '10s'],
    [60_000n, '1m0s'],
    [90_000n, '1m30s'],
    [3_600_000n, '1h0m0s'],
    [5_430_250n, '1h30m30.25s'],
  ])('writes %s ms as %s', (ms, text) => {
    expect(goDurationString(ms)).toBe(text);
  });
});
