// A command lives for a second or less. At V8's default tier-up budget most of
// its code is optimized by TurboFan, whose compiles took a third of `list -l`'s
// CPU on two cores; a budget ~8× larger leaves them to the hottest functions
// (bench/README.md has the measurements). main.ts imports this module first,
// so the flag is set before any other module's code runs.
import { setFlagsFromString } from 'node:v8';

setFlagsFromString('--interrupt-budget=1000000');
