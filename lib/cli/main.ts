#!/usr/bin/env node
// xen-domconfig: the command line. All the work is in program.ts.
import { setFlagsFromString } from 'node:v8';

// A command lives for a second or less. At V8's default tier-up budget most of
// its code is optimized by TurboFan, whose compiles took a third of `list -l`'s
// CPU on two cores; a budget ~8× larger leaves them to the hottest functions
// (bench/README.md has the measurements). Set before the modules load.
setFlagsFromString('--interrupt-budget=1000000');
const { runCli } = await import('./program.js');

process.exitCode = await runCli(process.argv.slice(2));
