import type { Command, Option } from 'commander';

// docker parses `run` and `exec` options only up to the first operand (pflag's
// SetInterspersed(false)): in `docker run alpine ls -l`, `-l` belongs to ls. Commander has that
// only as passThroughOptions, which needs positional options on every parent and would stop
// `vxmesh node ls -H ...` from working. So for the commands marked here, the argv is rewritten
// before parsing: a "--" goes in front of their first operand, and everything after it reaches
// the command as operands, untouched by the program's own options (-H) too.

const STOPS_AT_FIRST_OPERAND = new WeakSet<Command>();

/** Marks `command` as taking its options only before its first operand. Returns it, for chaining. */
export function stopOptionsAtFirstOperand(command: Command): Command {
  STOPS_AT_FIRST_OPERAND.add(command);
  return command;
}

function optionNamed(command: Command, flag: string): Option | undefined {
  for (let cmd: Command | null = command; cmd !== null; cmd = cmd.parent) {
    const found = cmd.options.find((o) => o.short === flag || o.long === flag);
    if (found !== undefined) {
      return found;
    }
  }
  return undefined;
}

function isOptionLike(arg: string | undefined): boolean {
  return arg !== undefined && arg.length > 1 && arg.startsWith('-');
}

/**
 * How many arguments after `arg` (an option-like argument at `command`'s level) are its value,
 * reading it as commander does: "--flag value", "--flag=value", "-f value", "-fvalue", "-abf value".
 * Unknown options take none (commander reports them).
 */
function valueArgsAfter(command: Command, arg: string, next: string | undefined): number {
  const takesNext = (option: Option | undefined): number => {
    if (option?.required === true) {
      return 1;
    }
    return option?.optional === true && next !== undefined && !isOptionLike(next) ? 1 : 0;
  };
  if (arg.startsWith('--')) {
    return arg.includes('=') ? 0 : takesNext(optionNamed(command, arg));
  }
  // A group of short flags: booleans until one that takes a value, which takes the rest or `next`.
  for (let i = 1; i < arg.length; i++) {
    const option = optionNamed(command, `-${arg[i]}`);
    if (option === undefined) {
      return 0;
    }
    if (option.required || option.optional) {
      return i === arg.length - 1 ? takesNext(option) : 0;
    }
  }
  return 0;
}

/**
 * `argv` with "--" inserted before the first operand of a command marked with
 * {@link stopOptionsAtFirstOperand}; unchanged when the user already wrote "--" first, or when the
 * command line does not reach such a command.
 */
export function separateOperands(program: Command, argv: readonly string[]): string[] {
  let command = program;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      break;
    }
    if (isOptionLike(arg)) {
      i += valueArgsAfter(command, arg, argv[i + 1]);
      continue;
    }
    const sub = command.commands.find((c) => c.name() === arg || c.aliases().includes(arg));
    if (sub !== undefined) {
      command = sub;
      continue;
    }
    if (STOPS_AT_FIRST_OPERAND.has(command)) {
      return [...argv.slice(0, i), '--', ...argv.slice(i)];
    }
    break;
  }
  return [...argv];
}
