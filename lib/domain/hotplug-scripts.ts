// The hotplug scripts libxl runs itself for backends in the toolstack domain
// (xl.conf's run_hotplug_scripts, on by default): after a backend reached
// InitWait, and after it closed on removal. The environment is libxl_linux.c's
// (libxl__get_hotplug_script_info); the kind's descriptor says whether its
// backend has a script and with which arguments. The script comes from the
// backend's own `script` node, which this toolstack wrote.
import type { Socket } from 'node:net';
import type { HotplugAction, HotplugRecipe } from '../devices/index.js';
import { AbortError, type XenStore } from '../xenstore/index.js';
// hotplug.ts, which runs these scripts, defines HotplugError: a cycle, harmless as the class is
// only constructed when a script fails, long after both modules loaded.
// eslint-disable-next-line import-x/no-cycle -- until HotplugError lives outside hotplug.ts
import { HotplugError } from './hotplug.js';

/** libxl's LIBXL_HOTPLUG_TIMEOUT. */
export const HOTPLUG_SCRIPT_TIMEOUT_MS = 40_000;
/** Output kept for the error message. */
const OUTPUT_TAIL = 512;
/** How long output still buffered at the script's exit is read when a helper keeps its pipes open. */
const OUTPUT_GRACE_MS = 100;

export type { HotplugAction };

export interface ScriptTarget {
  domid: number;
  devid: number;
  /** Backend kind in xenstore: vbd, vif, vtpm, qdisk… */
  backendKind: string;
  /** /local/domain/0/backend/<kind>/<domid>/<devid> */
  backendPath: string;
}

/** The command libxl would run for target, or undefined where it runs none. */
export async function hotplugCommand(
  xenstore: XenStore,
  recipe: HotplugRecipe,
  target: ScriptTarget,
  action: HotplugAction,
): Promise<{ file: string; args: string[]; env: Record<string, string> } | undefined> {
  const { backendKind: kind, backendPath, domid, devid } = target;
  const call = recipe.script?.(kind, action, { domid, devid });
  if (!call) return undefined;
  const fromBackend = Object.entries(call.backendEnv ?? {});
  const [script, ...values] = await xenstore.readMany([`${backendPath}/script`, ...fromBackend.map(([, key]) => `${backendPath}/${key}`)]);
  if (script === undefined || script === '') {
    throw new HotplugError('EHOTPLUG', `no hotplug script in ${backendPath}/script`, { domid, devid, path: `${backendPath}/script` });
  }
  const env: Record<string, string> = {
    script,
    XENBUS_TYPE: kind,
    XENBUS_PATH: `backend/${kind}/${domid}/${devid}`,
    XENBUS_BASE_PATH: 'backend',
  };
  fromBackend.forEach(([name], i) => { env[name] = values[i] ?? ''; });
  return { file: script, args: call.args, env: { ...env, ...call.env } };
}

/**
 * Runs the script for target, if libxl runs one for its kind, and waits for
 * its exit status (at most timeoutMs), as libxl does: not for its output to
 * close, which a helper it left in the background may hold open. Its output
 * is passed through to this process's stderr as it comes, as libxl's scripts
 * write to the toolstack's; only the last part is kept, for the error. A
 * non-zero exit or a timeout is EHOTPLUG with the backend's hotplug-error and
 * that output.
 */
export async function runHotplugScript(
  xenstore: XenStore,
  recipe: HotplugRecipe,
  target: ScriptTarget,
  action: HotplugAction,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  const command = await hotplugCommand(xenstore, recipe, target, action);
  if (!command) return;
  options.signal?.throwIfAborted();
  const details = { domid: target.domid, devid: target.devid, path: target.backendPath };
  const timeoutMs = options.timeoutMs ?? HOTPLUG_SCRIPT_TIMEOUT_MS;
  const outcome = await runToExit(command, {
    // The script talks to the same xenstored as this toolstack.
    env: { ...process.env, ...(xenstore.path === undefined ? {} : { XENSTORED_PATH: xenstore.path }), ...command.env },
    timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (outcome.status === 0) return;
  if (outcome.aborted) throw new AbortError(options.signal!); // the library's own, as every wait
  const [hotplugError] = await xenstore.readMany([`${target.backendPath}/hotplug-error`]);
  const why = outcome.timedOut ? `did not finish within ${timeoutMs} ms`
    : outcome.spawnError ? `could not run (${String(outcome.spawnError.code ?? outcome.spawnError.message)})`
    : outcome.signal ? `was killed by ${outcome.signal}` : `exited ${String(outcome.status)}`;
  const said = [hotplugError, outcome.output.trim()].filter((text) => text).join('; ');
  throw new HotplugError('EHOTPLUG', `hotplug script ${command.file} ${command.args[0]} ${why}${said ? `: ${said}` : ''}`,
    { ...details, ...(outcome.spawnError ? { cause: outcome.spawnError } : {}) });
}

interface ScriptOutcome {
  status: number | null;
  signal: NodeJS.Signals | null;
  /** The last OUTPUT_TAIL characters the script wrote (stderr and stdout as they came). */
  output: string;
  timedOut: boolean;
  aborted: boolean;
  spawnError?: NodeJS.ErrnoException;
}

/**
 * Spawns the script and settles on its exit (or spawn failure); kills it with
 * SIGKILL on timeout or abort. child_process is loaded here, on the first
 * script: a command that runs none (a list) does not pay for it at start.
 */
async function runToExit(
  command: { file: string; args: string[] },
  options: { env: NodeJS.ProcessEnv; timeoutMs: number; signal?: AbortSignal },
): Promise<ScriptOutcome> {
  const { spawn } = await import('node:child_process');
  return new Promise((resolve) => {
    const child = spawn(command.file, command.args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let tail = '';
    let timedOut = false;
    let aborted = false;
    const pass = (chunk: Buffer) => {
      process.stderr.write(chunk);
      tail = (tail + chunk.toString('utf8')).slice(-OUTPUT_TAIL);
    };
    child.stdout.on('data', pass);
    child.stderr.on('data', pass);
    const kill = () => { child.kill('SIGKILL'); };
    const timer = setTimeout(() => { timedOut = true; kill(); }, options.timeoutMs);
    const onAbort = () => { aborted = true; kill(); };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    let settled = false;
    const settle = (outcome: Omit<ScriptOutcome, 'output' | 'timedOut' | 'aborted'>) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      // Output a background helper still writes passes through while this process lives; it keeps nothing alive.
      (child.stdout as Socket).unref();
      (child.stderr as Socket).unref();
      resolve({ ...outcome, output: tail, timedOut, aborted });
    };
    child.once('error', (error: NodeJS.ErrnoException) => { settle({ status: null, signal: null, spawnError: error }); });
    child.once('exit', (status, signal) => {
      // What it wrote just before exiting is read when its pipes close, at once
      // unless a helper holds them: that one is waited for OUTPUT_GRACE_MS at most.
      const grace = setTimeout(() => { settle({ status, signal }); }, OUTPUT_GRACE_MS);
      child.once('close', () => { clearTimeout(grace); settle({ status, signal }); });
    });
  });
}
