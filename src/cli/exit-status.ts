import { CommanderError } from 'commander';

/**
 * Ends the CLI with `code` and no message of its own, for `exec`, which exits with its command's
 * status (docker's StatusError). It is a CommanderError because `runCli` already treats those
 * as "exit with this code, whatever needed saying has been said".
 */
export class ExitStatus extends CommanderError {
  constructor(code: number) {
    super(code, 'vxmesh.exitStatus', `exit status ${code}`);
  }
}
