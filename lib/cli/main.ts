// xen-domconfig: the command line (entered through bin.ts). All the work is in program.ts.
import { constants } from 'node:os';
import { runCli } from './program.js';

const SIGPIPE_STATUS = 128 + constants.signals.SIGPIPE;

// A reader that goes away (`xen-domconfig list -l | head`) ends the command
// quietly, with the status of a process SIGPIPE ends (Node ignores SIGPIPE).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(SIGPIPE_STATUS);
});

process.exitCode = await runCli(process.argv.slice(2));
