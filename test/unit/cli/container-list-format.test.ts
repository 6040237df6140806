import { describe, expect, it } from 'vitest';
import {
  commandLine,
  containerListEntries,
  ellipsis,
  formatContainerIds,
  formatContainerJsonLines,
  formatContainerTable,
} from '../../../src/cli/container-list-format.js';
import { containerStateName, containerStatusText } from '../../../src/cli/container-status-text.js';
import { goQuote } from '../../../src/cli/go-quote.js';
import { humanDuration } from '../../../src/cli/human-duration.js';
import { ContainerState } from '../../../src/gen/vxmesh/v1/container.js';
import { FIXTURE_NOW_MS, containerViews } from '../../cli/container-fixtures.js';

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

describe('humanDuration (go-units HumanDuration)', () => {
  it.each([
    [-5 * SECOND, 'Less than a second'],
    [999, 'Less than a second'],
    [SECOND, '1 second'],
    [1999, '1 second'],
    [2 * SECOND, '2 seconds'],
    [59 * SECOND + 999, '59 seconds'],
    [60 * SECOND, 'About a minute'],
    [119 * SECOND, 'About a minute'],
    [2 * MINUTE, '2 minutes'],
    [59 * MINUTE + 59 * SECOND, '59 minutes'],
    [HOUR, 'About an hour'],
    [HOUR + 29 * MINUTE, 'About an hour'],
    [HOUR + 30 * MINUTE, '2 hours'],
    [47 * HOUR + 29 * MINUTE, '47 hours'],
    [47 * HOUR + 30 * MINUTE, '2 days'],
    [13 * DAY + 23 * HOUR, '13 days'],
    [14 * DAY, '2 weeks'],
    [59 * DAY, '8 weeks'],
    [60 * DAY, '2 months'],
    [729 * DAY, '24 months'],
    [730 * DAY, '2 years'],
    [3 * 365 * DAY + DAY, '3 years'],
  ])('%d ms reads %j', (ms, text) => {
    expect(humanDuration(ms)).toBe(text);
  });
});

describe('containerStatusText (docker State.String)', () => {
  const now = 1_000_000_000_000;
  const base = { exitCode: 0, startedAt: 0n, finishedAt: 0n };

  it('is "Up <duration>" while running, from the start time', () => {
    expect(
      containerStatusText(
        { ...base, state: ContainerState.CONTAINER_STATE_RUNNING, startedAt: BigInt(now - 5 * SECOND) },
        now,
      ),
    ).toBe('Up 5 seconds');
  });

  it('is "Created" for a container never started, whatever its state says', () => {
    expect(containerStatusText({ ...base, state: ContainerState.CONTAINER_STATE_CREATED }, now)).toBe('Created');
    expect(containerStatusText({ ...base, state: ContainerState.CONTAINER_STATE_EXITED }, now)).toBe('Created');
  });

  it('is "Exited (<code>) <duration> ago" after an exit', () => {
    expect(
      containerStatusText(
        {
          state: ContainerState.CONTAINER_STATE_EXITED,
          exitCode: 137,
          startedAt: BigInt(now - HOUR),
          finishedAt: BigInt(now - 2 * MINUTE),
        },
        now,
      ),
    ).toBe('Exited (137) 2 minutes ago');
  });

  it('is empty for a started container without a finish time that is not running', () => {
    expect(
      containerStatusText({ ...base, state: ContainerState.CONTAINER_STATE_EXITED, startedAt: BigInt(now) }, now),
    ).toBe('');
  });

  it('names states in lower case, unknown ones as "unknown"', () => {
    expect(containerStateName(ContainerState.CONTAINER_STATE_CREATED)).toBe('created');
    expect(containerStateName(ContainerState.CONTAINER_STATE_RUNNING)).toBe('running');
    expect(containerStateName(ContainerState.CONTAINER_STATE_EXITED)).toBe('exited');
    expect(containerStateName(ContainerState.CONTAINER_STATE_UNSPECIFIED)).toBe('unknown');
  });
});

describe('the COMMAND column', () => {
  it('joins the command as docker’s daemon does: arguments with spaces in single quotes', () => {
    expect(commandLine(['sleep'])).toBe('sleep');
    expect(commandLine(['sh', '-c', 'echo hi'])).toBe("sh -c 'echo hi'");
    expect(commandLine([])).toBe('');
  });

  it('cuts to 20 characters with an ellipsis, counting characters not UTF-16 units', () => {
    expect(ellipsis('12345678901234567890', 20)).toBe('12345678901234567890');
    expect(ellipsis('123456789012345678901', 20)).toBe('1234567890123456789…');
    expect(ellipsis('𝔁'.repeat(21), 20)).toBe(`${'𝔁'.repeat(19)}…`);
  });

  it('quotes as Go’s strconv.Quote', () => {
    expect(goQuote("sh -c 'x'")).toBe(`"sh -c 'x'"`);
    expect(goQuote('say "hi"\\')).toBe('"say \\"hi\\"\\\\"');
    expect(goQuote('a\tb\nc\x07\x00\x7f')).toBe('"a\\tb\\nc\\a\\x00\\x7f"');
    expect(goQuote('héllo… 😀')).toBe('"héllo… 😀"');
    expect(goQuote('\u200b\u00a0')).toBe('"\\u200b\\u00a0"');
    expect(goQuote('\u{e0001}')).toBe('"\\U000e0001"');
  });
});

describe('ps output', () => {
  const containers = containerViews();

  it('prints docker’s table with NETWORKS for IMAGE and PORTS, newest first', () => {
    expect(formatContainerTable(containerListEntries(containers, true, FIXTURE_NOW_MS))).toBe(
      [
        'CONTAINER ID   COMMAND                  CREATED              STATUS                      NETWORKS          NAMES',
        '0c9d8e7f6a5b   "/usr/bin/env"           About a minute ago   Created                     appnet            fresh',
        'e4f5a6b7c8d9   "sh -c \'exit 3\'"         About an hour ago    Exited (3) 12 minutes ago   appnet            job',
        'a1b2c3d4e5f6   "sh -c \'while true; …"   3 hours ago          Up 3 hours                  appnet,backend2   web',
        '5be1c0f4a9d2   "sleep infinity"         2 days ago           Up 2 days                   backend2          db',
        '',
      ].join('\n'),
    );
  });

  it('prints the header alone when there are no containers', () => {
    expect(formatContainerTable([])).toBe('CONTAINER ID   COMMAND   CREATED   STATUS    NETWORKS   NAMES\n');
  });

  it('keeps full IDs and commands with --no-trunc', () => {
    const [, , web] = containerListEntries(containers, false, FIXTURE_NOW_MS);
    expect(web?.ID).toBe('a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90');
    expect(web?.Command).toBe(`"sh -c 'while true; do sleep 1; done'"`);
  });

  it('prints -q as IDs and --format json as docker’s {{json .}} lines', () => {
    const entries = containerListEntries(containers, true, FIXTURE_NOW_MS);
    expect(formatContainerIds(entries)).toBe('0c9d8e7f6a5b\ne4f5a6b7c8d9\na1b2c3d4e5f6\n5be1c0f4a9d2\n');
    const [first] = formatContainerJsonLines(entries).split('\n');
    expect(first).toBe(
      '{"Command":"\\"/usr/bin/env\\"","CreatedAt":"2026-08-01 11:58:30 +0000 UTC","ID":"0c9d8e7f6a5b",' +
        '"Labels":"","LocalVolumes":"0","Mounts":"","Names":"fresh","Networks":"appnet","Ports":"",' +
        '"RunningFor":"About a minute ago","State":"created","Status":"Created"}',
    );
  });

  it('sorts network names as Go sorts strings (bytes), and shows IDs for unnamed networks', () => {
    const [c] = containerViews();
    const entries = containerListEntries(
      [
        {
          ...c!,
          networks: [
            { ...c!.networks[0]!, networkName: 'beta' },
            { ...c!.networks[0]!, networkName: 'Zed' },
            { ...c!.networks[0]!, networkName: '', networkId: 'n0' },
          ],
        },
      ],
      true,
      FIXTURE_NOW_MS,
    );
    expect(entries[0]?.Networks).toBe('Zed,beta,n0');
  });

  it('counts CREATED from whole seconds, as docker’s list API carries them', () => {
    const [c] = containerViews();
    const entries = containerListEntries([{ ...c!, createdAt: 1_999n }], true, 3_500);
    // Created at 1.999 s is listed as 1 s: 2.5 s before "now", not 1.501 s.
    expect(entries[0]?.RunningFor).toBe('2 seconds ago');
    expect(entries[0]?.CreatedAt).toBe('1970-01-01 00:00:01 +0000 UTC');
  });
});
