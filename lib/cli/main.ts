#!/usr/bin/env node
// xen-domconfig: the command line. All the work is in program.ts.
import { constants } from 'node:os';
import { setFlagsFromString } from 'node:v8';

const SIGPIPE_STATUS = 128 + constants.signals.SIGPIPE;

// A command lives for a second or less. At V8's default tier-up budget most of
// its code is optimized by TurboFan, whose compiles took a third of `list -l`'s
// CPU on two cores; a budget ~8× larger leaves them to the hottest functions
// (bench/README.md has the measurements). Set before the modules load.
setFlagsFromString('--interrupt-budget=1000000');
const { runCli } = await import('./program.js');

// A reader that goes away (`xen-domconfig list -l | head`) ends the command
// quietly, with the status of a process SIGPIPE ends (Node ignores SIGPIPE).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(SIGPIPE_STATUS);
});

process.exitCode = await runCli(process.argv.slice(2));
