#!/usr/bin/env node
// The command's entry: everything that must happen before the command's own
// modules are compiled, then those modules (one bundled chunk, loaded here).
import module from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { tuneTierUp } from './tiering.js';

tuneTierUp();
// Node 22+ keeps V8's code for the bundle between runs (6–12 ms of each start, measured here).
// The cache lives in the user's own cache folder, not a shared /tmp one,
// since this command runs as root. NODE_COMPILE_CACHE, where set, wins.
const { enableCompileCache } = module as { enableCompileCache?: (directory: string) => unknown };
if (enableCompileCache && !process.env.NODE_COMPILE_CACHE && !process.env.NODE_DISABLE_COMPILE_CACHE) {
  enableCompileCache(join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'xen-domconfig', 'v8'));
}
await import('./main.js');
