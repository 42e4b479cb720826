#!/usr/bin/env node
// xen-domconfig: the command line. All the work is in program.ts.
import { runCli } from './program.js';

process.exitCode = await runCli(process.argv.slice(2));
