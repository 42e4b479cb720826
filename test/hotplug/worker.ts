// Runs children/worker.ts in its own node process.
import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageRoot } from '../../lib/util/package-root.js';

const here = dirname(fileURLToPath(import.meta.url));
const ARM_FAULT = join(here, '..', 'harness', 'arm-fault.mjs');

let addonCopy: string | undefined;

/** Long runs spawn hundreds of workers: they load a private copy of the addon, immune to a rebuild meanwhile. */
function workerAddon(): string {
  if (process.env.XEN_DOMCONFIG_NATIVE) return process.env.XEN_DOMCONFIG_NATIVE;
  if (!addonCopy) {
    addonCopy = join(mkdtempSync(join(tmpdir(), 'xen-domconfig-addon-')), 'xen_domconfig.node');
    copyFileSync(join(packageRoot(), 'build', 'Release', 'xen_domconfig.node'), addonCopy);
  }
  return addonCopy;
}

export interface WorkerRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface WorkerArgs {
  socketPath: string;
  userdataDir: string;
  domid: number;
  seed: number;
  operations: number;
  /** The sysfs stand-in's root: the worker then hotplugs every kind, usb devices and vfbs too. */
  sysfsRoot?: string;
}

/** Runs the worker to its end; killAfterMs SIGKILLs it at that moment if still running. */
export function runWorker(args: WorkerArgs, options: { fault?: string; killAfterMs?: number } = {}): Promise<WorkerRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, XEN_DOMCONFIG_FAULT: options.fault ?? '', XEN_DOMCONFIG_NATIVE: workerAddon() };
  const child = spawn(process.execPath, [
    '--import', join(here, 'children', 'ts-register.mjs'), '--import', ARM_FAULT, join(here, 'children', 'worker.ts'),
    args.socketPath, args.userdataDir, String(args.domid), String(args.seed), String(args.operations),
    ...(args.sysfsRoot === undefined ? [] : [args.sysfsRoot]),
  ], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const timer = options.killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), options.killAfterMs);
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
