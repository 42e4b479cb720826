// A command lives for a second or less. At V8's default tier-up budget most of
// its code is optimized by TurboFan, whose compiles took a third of `list -l`'s
// CPU on two cores; a budget ~8× larger leaves them to the hottest functions
// (bench/README.md has the measurements). V8 12 (Node 22) replaced the budget
// by invocation counts, and an unknown flag is not an error V8 lets a program
// catch: it prints to stderr. So the flag is chosen by the V8 that runs, and
// none is set where the benchmark showed no gain.
import { setFlagsFromString } from 'node:v8';

/** The tier-up flag for each V8 major from which it applies, newest first. */
const TIER_UP_FLAGS: readonly { fromV8: number; flag: string | undefined }[] = [
  { fromV8: 12, flag: undefined },
  { fromV8: 0, flag: '--interrupt-budget=1000000' },
];

export function tierUpFlag(v8Version: string = process.versions.v8): string | undefined {
  const major = Number.parseInt(v8Version, 10);
  return TIER_UP_FLAGS.find((entry) => major >= entry.fromV8)?.flag;
}

export function tuneTierUp(): void {
  const flag = tierUpFlag();
  if (flag) setFlagsFromString(flag);
}
