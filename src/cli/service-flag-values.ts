import { InvalidArgumentError as FlagValueError } from 'commander';
import { PortConfig, PublishMode } from '../gen/vxmesh/v1/service.js';
import { parseGoDuration } from './go-duration.js';
import { PROTOCOL_NAMES, PUBLISH_MODE_NAMES, publishModeFromText } from './service-text.js';
import type { ProtocolName, PublishModeName } from './service-text.js';

// Per-value parsers for the `service create|update` flags, for commander's `argParser`, read as
// docker/cli reads them (opts.PortOpt, opts.NetworkOpt, swarmkit's constraint syntax). Each
// throws commander's InvalidArgumentError with a reason, which commander prefixes with the flag
// and the value ("Error: option '--publish <spec>' argument '80:x' is invalid. ..."). Only syntax
// is checked here; conflicts with other services and the like are for the managers.

/** swarmkit's rule for service names (a DNS label; the managers check it again). */
const SERVICE_NAME = /^[a-zA-Z0-9](?:[-_]*[a-zA-Z0-9]+)*$/;
const SERVICE_NAME_MAX = 63;
/** The largest replica count, attempt count or parallelism the spec's uint32 fields carry. */
const MAX_UINT32 = 4_294_967_295;
const MAX_PORT = 65_535;

/** A network of `--network` / `--network-add` as given: a name, ID or ID prefix plus aliases. */
export interface ServiceNetworkOption {
  readonly network: string;
  readonly aliases: readonly string[];
}

/**
 * Which published ports one `--publish-rm` removes: every field that is set must match. `either`
 * matches the target or the published port (the bare `--publish-rm 8080` form).
 */
export interface PortRemoval {
  readonly target?: number;
  readonly published?: number;
  readonly either?: number;
  readonly protocol?: ProtocolName;
  readonly mode?: PublishModeName;
}

/** `--name`: swarmkit's service name syntax. */
export function parseServiceName(value: string): string {
  if (!SERVICE_NAME.test(value) || value.length > SERVICE_NAME_MAX) {
    throw new FlagValueError(
      `Must be a DNS label of at most ${SERVICE_NAME_MAX} characters: letters, digits, "-" and "_", ` +
        'starting and ending with a letter or digit.',
    );
  }
  return value;
}

function wholeNumber(value: string): number {
  return /^\d+$/.test(value.trim()) ? Number(value.trim()) : Number.NaN;
}

/** `--replicas` and `--restart-max-attempts`: a whole number from 0. */
export function parseCountFlag(value: string): number {
  const n = wholeNumber(value);
  if (!Number.isSafeInteger(n) || n > MAX_UINT32) {
    throw new FlagValueError(`Must be a whole number from 0 to ${MAX_UINT32}.`);
  }
  return n;
}

/**
 * `--update-parallelism`: a whole number from 1. docker reads 0 as "every task at once"; the
 * managers read 0 as their default (1), so 0 is refused rather than silently meaning 1.
 */
export function parseParallelismFlag(value: string): number {
  const n = parseCountFlag(value);
  if (n === 0) {
    throw new FlagValueError('Must be at least 1 (vxmesh has no all-at-once updates).');
  }
  return n;
}

function durationMs(value: string): bigint {
  let ms: number;
  try {
    ms = parseGoDuration(value.trim());
  } catch (err) {
    throw new FlagValueError(`${(err as Error).message}; expected a duration such as 10s, 1m30s or 500ms.`);
  }
  return BigInt(Math.round(ms));
}

/** `--update-delay`: a Go duration ("10s", "1m30s"), in whole milliseconds. */
export function parseDelayFlag(value: string): bigint {
  return durationMs(value);
}

/**
 * `--restart-delay`: a Go duration of at least 1ms. The managers read 0 as their default (5s),
 * so a zero delay cannot be asked for and is refused rather than silently meaning 5s.
 */
export function parseRestartDelayFlag(value: string): bigint {
  const ms = durationMs(value);
  if (ms <= 0n) {
    throw new FlagValueError('Must be at least 1ms (0 would mean the default, 5s).');
  }
  return ms;
}

/**
 * One record of comma-separated fields as Go's encoding/csv reads it (docker reads `--publish`
 * and `--network` that way): a field may be double-quoted, with "" for a quote inside.
 */
function csvFields(value: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    let field = '';
    if (value[i] === '"') {
      i++;
      for (;;) {
        if (i >= value.length) {
          throw new FlagValueError('Unterminated quoted field.');
        }
        if (value[i] === '"') {
          if (value[i + 1] === '"') {
            field += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        field += value[i];
        i++;
      }
      if (i < value.length && value[i] !== ',') {
        throw new FlagValueError('Extraneous text after a quoted field.');
      }
    } else {
      const end = value.indexOf(',', i);
      field = value.slice(i, end < 0 ? value.length : end);
      i = end < 0 ? value.length : end;
    }
    fields.push(field);
    if (i >= value.length) {
      return fields;
    }
    i++; // the comma
  }
}

/** docker's test for the `key=value,...` syntax of `--publish` and `--network`. */
function isLongSyntax(value: string): boolean {
  return /\w=\w/.test(value);
}

function splitField(field: string): [string, string] {
  const at = field.indexOf('=');
  if (at <= 0) {
    throw new FlagValueError(`Invalid field "${field}"; expected key=value.`);
  }
  return [field.slice(0, at).trim(), field.slice(at + 1).trim()];
}

/**
 * `--network` (create) and `--network-add` (update): a network name or ID, or docker's long
 * syntax `name=NET,alias=A[,alias=B...]`. Accumulates into `previous`.
 */
export function parseServiceNetworkFlag(
  value: string,
  previous: readonly ServiceNetworkOption[] | undefined,
): ServiceNetworkOption[] {
  let option: ServiceNetworkOption;
  if (isLongSyntax(value)) {
    let network = '';
    const aliases: string[] = [];
    for (const field of csvFields(value)) {
      const [key, fieldValue] = splitField(field);
      switch (key) {
        case 'name': {
          network = fieldValue;
          break;
        }
        case 'alias': {
          if (fieldValue === '' || /\s/.test(fieldValue)) {
            throw new FlagValueError(`Invalid alias "${fieldValue}"; expected a name without spaces.`);
          }
          aliases.push(fieldValue);
          break;
        }
        case 'ip':
        case 'ip6':
        case 'driver-opt': {
          throw new FlagValueError(`The field "${key}" is not supported for services (only name and alias).`);
        }
        default: {
          throw new FlagValueError(`Invalid field key "${key}"; expected name or alias.`);
        }
      }
    }
    if (network === '') {
      throw new FlagValueError('Network name/id is not specified (name=NET).');
    }
    option = { network, aliases };
  } else {
    if (value.trim() === '') {
      throw new FlagValueError('Expected a network name or ID, or name=NET,alias=ALIAS.');
    }
    option = { network: value.trim(), aliases: [] };
  }
  return [...(previous ?? []), option];
}

function portNumber(text: string, what: string, allowZero: boolean): number {
  const n = wholeNumber(text);
  if (!Number.isSafeInteger(n) || n > MAX_PORT || (!allowZero && n === 0)) {
    throw new FlagValueError(`Invalid ${what} "${text}"; expected a port from ${allowZero ? 0 : 1} to ${MAX_PORT}.`);
  }
  return n;
}

function protocolOf(text: string): ProtocolName {
  const lower = text.toLowerCase();
  const found = PROTOCOL_NAMES.find((p) => p === lower);
  if (found === undefined) {
    throw new FlagValueError(`Invalid protocol "${text}"; vxmesh publishes tcp or udp.`);
  }
  return found;
}

function publishModeOf(text: string): PublishModeName {
  const found = PUBLISH_MODE_NAMES.find((m) => m === text.toLowerCase());
  if (found === undefined) {
    throw new FlagValueError(`Invalid publish mode "${text}"; must be either ingress or host.`);
  }
  return found;
}

/** "8080" or "8080-8081" as [first, last]. */
function portRange(text: string, what: string, allowZero: boolean): [number, number] {
  const dash = text.indexOf('-');
  if (dash < 0) {
    const port = portNumber(text, what, allowZero);
    return [port, port];
  }
  const first = portNumber(text.slice(0, dash), what, false);
  const last = portNumber(text.slice(dash + 1), what, false);
  if (last < first) {
    throw new FlagValueError(`Invalid ${what} range "${text}"; the end is before the start.`);
  }
  return [first, last];
}

/** Splits "spec/proto" into the spec and its protocol (tcp when absent). */
function withProtocol(value: string): [string, ProtocolName] {
  const slash = value.lastIndexOf('/');
  return slash < 0 ? [value, 'tcp'] : [value.slice(0, slash), protocolOf(value.slice(slash + 1))];
}

/** Ports of the short syntax `[PUBLISHED:]TARGET[/PROTO]`, ranges allowed as docker allows them. */
function shortSyntaxPorts(value: string): PortConfig[] {
  const [spec, protocol] = withProtocol(value.trim());
  const parts = spec.split(':');
  if (parts.length > 2) {
    throw new FlagValueError('A host IP is not supported; write PUBLISHED:TARGET[/PROTO].');
  }
  const targetText = parts.length === 2 ? (parts[1] ?? '') : (parts[0] ?? '');
  const publishedText = parts.length === 2 ? (parts[0] ?? '') : '';
  const [targetFirst, targetLast] = portRange(targetText, 'target port', false);
  const [publishedFirst, publishedLast] =
    publishedText === '' ? [0, 0] : portRange(publishedText, 'published port', false);
  const targets = targetLast - targetFirst + 1;
  const publisheds = publishedLast - publishedFirst + 1;
  if (publishedText !== '' && targets !== publisheds && targets !== 1) {
    throw new FlagValueError('Invalid ranges: the published and target ranges differ in length.');
  }
  const ports: PortConfig[] = [];
  const count = publishedText === '' ? targets : publisheds;
  for (let i = 0; i < count; i++) {
    ports.push(
      PortConfig.create({
        protocol,
        targetPort: targets === 1 ? targetFirst : targetFirst + i,
        publishedPort: publishedText === '' ? 0 : publishedFirst + i,
        publishMode: PublishMode.PUBLISH_MODE_INGRESS,
      }),
    );
  }
  return ports;
}

/** The long syntax `published=P,target=T[,protocol=tcp|udp][,mode=ingress|host]`. */
/** The fields a long-syntax port flag names (`published=…,target=…,protocol=…,mode=…`). */
interface PortFields {
  target?: number;
  published?: number;
  protocol?: ProtocolName;
  mode?: PublishModeName;
}

/** Reads the long syntax; `publishedMayBeZero`: whether `published=0` (let the managers pick) is allowed. */
function longSyntaxFields(value: string, publishedMayBeZero: boolean): PortFields {
  const fields: PortFields = {};
  for (const field of csvFields(value)) {
    // docker reads keys and values case-insensitively.
    const [key, fieldValue] = splitField(field.toLowerCase());
    switch (key) {
      case 'target': {
        fields.target = portNumber(fieldValue, 'target port', false);
        break;
      }
      case 'published': {
        fields.published = portNumber(fieldValue, 'published port', publishedMayBeZero);
        break;
      }
      case 'protocol': {
        fields.protocol = protocolOf(fieldValue);
        break;
      }
      case 'mode': {
        fields.mode = publishModeOf(fieldValue);
        break;
      }
      default: {
        throw new FlagValueError(`Invalid field key "${key}"; expected published, target, protocol or mode.`);
      }
    }
  }
  return fields;
}

function longSyntaxPort(value: string): PortConfig {
  const { target = 0, published = 0, protocol = 'tcp', mode = 'ingress' } = longSyntaxFields(value, true);
  if (target === 0) {
    throw new FlagValueError('Missing mandatory field "target".');
  }
  return PortConfig.create({
    protocol,
    targetPort: target,
    publishedPort: published,
    publishMode: publishModeFromText(mode),
  });
}

/**
 * `-p/--publish` (create) and `--publish-add` (update), as docker's PortOpt reads them: the long
 * syntax `published=P,target=T[,protocol=tcp|udp][,mode=ingress|host]`, or the short syntax
 * `[PUBLISHED:]TARGET[/PROTO]` (ingress mode; ranges such as 8080-8081:80-81 allowed). A missing
 * published port is left 0 for the managers to decide. Accumulates into `previous`.
 */
export function parsePublishFlag(value: string, previous: readonly PortConfig[] | undefined): PortConfig[] {
  const ports = isLongSyntax(value) ? [longSyntaxPort(value)] : shortSyntaxPorts(value);
  return [...(previous ?? []), ...ports];
}

/**
 * `--publish-rm`: `PORT[/PROTO]` removes the ports whose target or published port is PORT (docker
 * matches the target only), `PUBLISHED:TARGET[/PROTO]` that exact mapping, and the long syntax any
 * of `published=`, `target=`, `protocol=`, `mode=` (all given must match). Accumulates into `previous`.
 */
export function parsePublishRemoveFlag(value: string, previous: readonly PortRemoval[] | undefined): PortRemoval[] {
  let removal: PortRemoval;
  if (isLongSyntax(value)) {
    const { target, published, protocol, mode } = longSyntaxFields(value, false);
    if (target === undefined && published === undefined) {
      throw new FlagValueError('Name the port to remove with published= or target=.');
    }
    removal = {
      ...(target === undefined ? {} : { target }),
      ...(published === undefined ? {} : { published }),
      ...(protocol === undefined ? {} : { protocol }),
      ...(mode === undefined ? {} : { mode }),
    };
  } else {
    const slash = value.lastIndexOf('/');
    const protocol = slash < 0 ? undefined : protocolOf(value.slice(slash + 1));
    const spec = (slash < 0 ? value : value.slice(0, slash)).trim();
    const parts = spec.split(':');
    if (parts.length > 2) {
      throw new FlagValueError('Expected PORT[/PROTO], PUBLISHED:TARGET[/PROTO] or published=P.');
    }
    const protocolPart = protocol === undefined ? {} : { protocol };
    removal =
      parts.length === 2
        ? {
            published: portNumber(parts[0] ?? '', 'published port', false),
            target: portNumber(parts[1] ?? '', 'target port', false),
            ...protocolPart,
          }
        : { either: portNumber(spec, 'port', false), ...protocolPart };
  }
  return [...(previous ?? []), removal];
}

/** Constraint keys the managers' scheduler evaluates. */
const CONSTRAINT_KEYS = ['node.id', 'node.hostname', 'node.role'] as const;
const CONSTRAINT = /^\s*([A-Za-z_][A-Za-z0-9_.-]*)\s*(==|!=)\s*(.*?)\s*$/;

/**
 * `--constraint` (create) and `--constraint-add` (update): `node.id`, `node.hostname` or
 * `node.role`, then `==` or `!=`, then a one-word value, as the managers parse them (swarmkit's
 * syntax, with the keys the managers' scheduler evaluates). Stored as given.
 * Accumulates into `previous`.
 */
export function parseConstraintFlag(value: string, previous: readonly string[] | undefined): string[] {
  const match = CONSTRAINT.exec(value);
  const key = match?.[1]?.toLowerCase() ?? '';
  const constraintValue = match?.[3] ?? '';
  if (
    match === null ||
    !(CONSTRAINT_KEYS as readonly string[]).includes(key) ||
    constraintValue === '' ||
    /[\s=!]/.test(constraintValue)
  ) {
    throw new FlagValueError(
      `Expected ${CONSTRAINT_KEYS.join(', ')}, then == or !=, then a one-word value, such as node.role==manager.`,
    );
  }
  if (key === 'node.role' && !['manager', 'worker'].includes(constraintValue.toLowerCase())) {
    throw new FlagValueError('node.role is manager or worker.');
  }
  return [...(previous ?? []), value.trim()];
}
