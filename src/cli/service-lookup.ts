import { VxmeshError } from '../common/errors.js';
import type { DaemonApi, ServiceRecord } from './daemon-api.js';

/** Whether `err` says the thing looked up does not exist. */
export function isNotFound(err: unknown): boolean {
  return err instanceof VxmeshError && err.code === 'NOT_FOUND';
}

/** Whether every failure in `err` (one error or an AggregateError) is a service that does not exist. */
export function onlyNotFound(err: unknown): boolean {
  const errors = err instanceof AggregateError ? (err.errors as unknown[]) : [err];
  return errors.every(isNotFound);
}

/**
 * docker's words for a service that does not exist: "No such service: web" (`service rm`,
 * `update`, `scale`), or "no such service: web" as docker's `service inspect` and `ps` put it.
 */
export function noSuchService(
  ref: string,
  style: 'capitalized' | 'lower' = 'capitalized',
  cause?: unknown,
): VxmeshError {
  const text = `${style === 'capitalized' ? 'No' : 'no'} such service: ${ref}`;
  return new VxmeshError('NOT_FOUND', text, cause === undefined ? undefined : { cause });
}

/**
 * The service `ref` names (full ID, name or unique ID prefix).
 * @throws VxmeshError NOT_FOUND "No such service: <ref>" when there is none; other failures as they come.
 */
export async function lookUpService(
  daemon: DaemonApi,
  ref: string,
  style: 'capitalized' | 'lower' = 'capitalized',
): Promise<ServiceRecord> {
  try {
    return await daemon.getService(ref);
  } catch (err) {
    throw isNotFound(err) ? noSuchService(ref, style, err) : err;
  }
}
