import { runCli } from './cli-program.js';
import { GrpcDaemonClient } from './daemon-client.js';
import { processOutput } from './output.js';
import { readStdinLine } from './stdin-line.js';

// Entry point of the `vxmesh` CLI (bin/vxmesh runs the compiled copy). Sets exitCode instead of
// calling process.exit so buffered stdout reaches a pipe before the process ends.
process.exitCode = await runCli(process.argv.slice(2), {
  output: processOutput,
  connect: (address) => new GrpcDaemonClient(address),
  readLine: readStdinLine,
});
