// Runs the built command line (dist/bin/xen-domconfig.js) as a child process.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../../lib/util/package-root.js';

export const CLI = join(packageRoot(), 'dist/bin/xen-domconfig.js');
/** Preloaded into every CLI child, so that XEN_DOMCONFIG_FAULT in its environment arms a crash point. */
const ARM_FAULT = join(packageRoot(), 'test/harness/arm-fault.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `options.command` runs another program with `args` as given (e.g. setpriv … node CLI …). */
export function runCli(args: string[], options: { env?: NodeJS.ProcessEnv; input?: string; command?: string } = {}): Promise<CliResult> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json, or bash scripts/setup.sh)`);
  const [file, argv] = options.command ? [options.command, args] : [process.execPath, ['--import', ARM_FAULT, CLI, ...args]];
  return new Promise((resolve) => {
    const child = execFile(file, argv, {
      env: options.env ?? process.env,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 60_000,
    }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolve({ code, signal: (error?.signal as NodeJS.Signals | undefined) ?? null, stdout, stderr });
    });
    if (options.input !== undefined) child.stdin!.end(options.input);
    else child.stdin!.end();
  });
}
