import type { Command } from 'commander';
import { InvalidArgumentError, VxmeshError } from '../common/errors.js';
import { ServiceMode, ServiceSpec } from '../gen/vxmesh/v1/service.js';
import { withDaemon } from './cli-context.js';
import type { DaemonApi } from './daemon-api.js';
import { serviceEnvironment } from './service-environment.js';
import type { ServiceCliContext } from './service-environment.js';
import { lookUpService } from './service-lookup.js';
import { waitForService } from './service-wait.js';

/** Highest replica count: the spec carries a uint32. */
const MAX_REPLICAS = 4_294_967_295;

interface ScaleOptions {
  readonly detach?: boolean;
}

/** One `SERVICE=REPLICAS` operand, split but with the count not yet checked (docker checks it per service). */
interface ScaleTarget {
  readonly ref: string;
  readonly replicas: string;
}

/**
 * Splits every operand first, as docker does: a malformed one fails the command before anything
 * is scaled.
 * @throws InvalidArgumentError naming the operand.
 */
function scaleTargets(operands: readonly string[]): ScaleTarget[] {
  return operands.map((operand) => {
    const at = operand.indexOf('=');
    const ref = at < 0 ? '' : operand.slice(0, at);
    const replicas = at < 0 ? '' : operand.slice(at + 1);
    if (ref === '' || replicas === '') {
      throw new InvalidArgumentError('scale specifier', `'${operand}': expected SERVICE=REPLICAS, such as web=3`);
    }
    return { ref, replicas };
  });
}

/** docker's per-service failure of `scale`: "<service>: <reason>", keeping the error's code. */
function serviceFailure(ref: string, err: unknown): VxmeshError {
  const message = err instanceof Error ? err.message : String(err);
  const code = err instanceof VxmeshError ? err.code : 'INTERNAL';
  return new VxmeshError(code, `${ref}: ${message}`, { cause: err });
}

async function scaleOne(daemon: DaemonApi, target: ScaleTarget): Promise<number> {
  const replicas = /^\d+$/.test(target.replicas) ? Number(target.replicas) : Number.NaN;
  if (!Number.isSafeInteger(replicas) || replicas > MAX_REPLICAS) {
    throw new VxmeshError(
      'INVALID_ARGUMENT',
      `invalid replicas value ${target.replicas}: expected a whole number from 0 to ${MAX_REPLICAS}`,
    );
  }
  const current = await lookUpService(daemon, target.ref);
  if (current.service.spec.mode === ServiceMode.SERVICE_MODE_GLOBAL) {
    throw new VxmeshError('INVALID_ARGUMENT', 'scale can only be used with replicated mode');
  }
  const spec = ServiceSpec.create({ ...current.service.spec, replicas });
  await daemon.updateService(current.service.id, spec, current.version);
  return replicas;
}

/** Adds `service scale` to the `service` group. */
export function addServiceScaleCommand(service: Command, ctx: ServiceCliContext): void {
  service
    .command('scale')
    .usage('[options] SERVICE=REPLICAS [SERVICE=REPLICAS...]')
    .description(
      'Set the number of tasks of one or more replicated services, then follow each until it ' +
        'converges (unless -d). Every service is tried; each failure is reported.',
    )
    .option('-d, --detach', 'exit at once instead of waiting for the services to converge')
    .argument('<service=replicas...>', 'services and their new task counts')
    .action(async (operands: string[], opts: ScaleOptions, cmd: Command) => {
      const targets = scaleTargets(operands);
      const env = serviceEnvironment(ctx);
      const errors: VxmeshError[] = [];
      await withDaemon(ctx, cmd, async (daemon) => {
        const scaled: string[] = [];
        for (const target of targets) {
          try {
            const replicas = await scaleOne(daemon, target);
            ctx.output.out(`${target.ref} scaled to ${replicas}\n`);
            scaled.push(target.ref);
          } catch (err) {
            errors.push(serviceFailure(target.ref, err));
          }
        }
        // As docker does: every change first, then the progress of each service in turn.
        if (opts.detach !== true) {
          for (const ref of scaled) {
            try {
              await waitForService(env, ctx.output, daemon, ref, false);
            } catch (err) {
              errors.push(serviceFailure(ref, err));
            }
          }
        }
      });
      const [first] = errors;
      if (first !== undefined && errors.length === 1) {
        throw first;
      }
      if (errors.length > 1) {
        throw new AggregateError(errors, `${errors.length} services failed`);
      }
    });
}
