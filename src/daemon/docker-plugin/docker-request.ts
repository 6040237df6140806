import { InvalidArgumentError } from '../../common/errors.js';

/** A request body: a JSON object (Docker sends `{}` or nothing when a method takes no fields). */
export type Body = Readonly<Record<string, unknown>>;

/** A required non-empty string field. @throws InvalidArgumentError naming it. */
export function requiredString(body: Body, field: string): string {
  const v = body[field];
  if (typeof v !== 'string' || v === '') {
    throw new InvalidArgumentError(
      field,
      v === undefined ? 'is required' : `must be a non-empty string, got ${JSON.stringify(v)}`,
    );
  }
  return v;
}

/** An optional string field; '' when absent or null. @throws InvalidArgumentError for another type. */
export function optionalString(body: Body, field: string): string {
  const v = body[field];
  if (v === undefined || v === null) {
    return '';
  }
  if (typeof v !== 'string') {
    throw new InvalidArgumentError(field, `must be a string, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** An optional object field; {} when absent or null. @throws InvalidArgumentError for another type. */
export function optionalObject(body: Body, field: string): Body {
  const v = body[field];
  if (v === undefined || v === null) {
    return {};
  }
  if (typeof v !== 'object' || Array.isArray(v)) {
    throw new InvalidArgumentError(field, 'must be an object');
  }
  return v as Body;
}

/** An optional list of objects; [] when absent or null. */
export function optionalObjectList(body: Body, field: string): Body[] {
  const v = body[field];
  if (v === undefined || v === null) {
    return [];
  }
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'object' || x === null || Array.isArray(x))) {
    throw new InvalidArgumentError(field, 'must be a list of objects');
  }
  return v as Body[];
}

/** String values of an options map (Docker sends strings; other values are ignored). */
export function stringOptions(options: Body): Record<string, string> {
  return Object.fromEntries(Object.entries(options).filter((e): e is [string, string] => typeof e[1] === 'string'));
}
