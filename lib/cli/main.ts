// xen-domconfig: the command line (entered through bin.ts). All the work is in program.ts.
import { constants } from 'node:os';
import { EXIT } from './errors.js';
import { runCli } from './program.js';

const SIGPIPE_STATUS = 128 + constants.signals.SIGPIPE;

// A reader that goes away (`xen-domconfig list -l | head`) ends the command
// quietly, with the status of a process SIGPIPE ends (Node ignores SIGPIPE).
// Any other failure to write the output (`> /dev/full`: ENOSPC, EIO…) is one
// line and status 1: the results did not arrive.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code === 'EPIPE') process.exit(SIGPIPE_STATUS);
  process.stderr.write(`xen-domconfig: cannot write standard output: ${error.message.split(',')[0]}\n`);
  process.exit(EXIT.FAILED);
});
// With nowhere to say anything, the status alone tells (no crash on stderr's error).
process.stderr.on('error', () => undefined);

process.exitCode = await runCli(process.argv.slice(2));
