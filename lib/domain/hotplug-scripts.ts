// The hotplug scripts libxl runs itself for backends in the toolstack domain
// (xl.conf's run_hotplug_scripts, on by default): after a backend reached
// InitWait, and after it closed on removal. The environment is libxl_linux.c's
// (libxl__get_hotplug_script_info); the kind's descriptor says whether its
// backend has a script and with which arguments. The script comes from the
// backend's own `script` node, which this toolstack wrote.
import { execFile } from 'node:child_process';
import type { HotplugAction, HotplugRecipe } from '../devices/index.js';
import { AbortError, type XenStore } from '../xenstore/index.js';
import { HotplugError } from './hotplug.js';

/** libxl's LIBXL_HOTPLUG_TIMEOUT. */
export const HOTPLUG_SCRIPT_TIMEOUT_MS = 40_000;
/** Output kept for the error message. */
const OUTPUT_TAIL = 512;

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
 * it (at most timeoutMs). A non-zero exit or a timeout is EHOTPLUG with the
 * backend's hotplug-error and the script's last output.
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
  const details = { domid: target.domid, devid: target.devid, path: target.backendPath };
  const failure = await new Promise<Error | undefined>((resolve) => {
    execFile(command.file, command.args, {
      // The script talks to the same xenstored as this toolstack.
      env: { ...process.env, ...(xenstore.path === undefined ? {} : { XENSTORED_PATH: xenstore.path }), ...command.env },
      timeout: options.timeoutMs ?? HOTPLUG_SCRIPT_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      ...(options.signal ? { signal: options.signal } : {}),
    }, (error, stdout, stderr) => {
      if (!error) return resolve(undefined);
      const output = `${stderr}${stdout}`.trim().slice(-OUTPUT_TAIL);
      resolve(Object.assign(error, { output }));
    });
  });
  if (!failure) return;
  if (failure.name === 'AbortError' && options.signal) throw new AbortError(options.signal); // the library's own, as every wait
  const [hotplugError] = await xenstore.readMany([`${target.backendPath}/hotplug-error`]);
  const { code, killed, output } = failure as Error & { code?: number | string; killed?: boolean; output: string };
  const why = killed ? `did not finish within ${options.timeoutMs ?? HOTPLUG_SCRIPT_TIMEOUT_MS} ms`
    : typeof code === 'number' ? `exited ${code}` : `could not run (${String(code ?? failure.message)})`;
  const said = [hotplugError, output].filter((text) => text).join('; ');
  throw new HotplugError('EHOTPLUG', `hotplug script ${command.file} ${command.args[0]} ${why}${said ? `: ${said}` : ''}`, { ...details, cause: failure });
}
