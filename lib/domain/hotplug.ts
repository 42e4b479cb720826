// Device hotplug and unplug, with libxl's protocol and its invariant "every
// device in xenstore has a template entry":
//   add    — defaults; under the domain-userdata lock, one xenstore
//            transaction (rerun on EAGAIN) that checks the device does not
//            exist, writes the template, then the /libxl, frontend and
//            backend nodes, and commits; then waits for the backend.
//   remove — online=0 and state=Closing, wait for Closed (forcing after a
//            timeout), then removes the nodes. The template is left alone
//            (a stale entry is valid) unless pruning is asked for.
import {
  ConfigError,
  cloneDomainConfig,
  completeStruct,
  formatStruct,
  parseStruct,
  type DomainConfig,
} from '../config/index.js';
import {
  cleanupPath,
  DEVICE_TYPES,
  DeviceDefaultsError,
  deviceExists,
  deviceNodes,
  destroyDeviceNodes,
  parseBackendPath,
  planDeviceAdd,
  writeDeviceAdd,
  writeDeviceClosing,
  XenstoreValueError,
  type AttachContext,
  type AttachRecipe,
  type AttachStep,
  type DeviceAddPlan,
  type DeviceEntry,
  type DeviceNodes,
  type DeviceType,
  type DomainType,
  type HotplugRecipe,
  type KeyValues,
  type XenStoreWriteOps,
} from '../devices/index.js';
import type { TemplateStore } from '../userdata/index.js';
import { AbortError, type XenStore, type XenStoreOps } from '../xenstore/index.js';
import { faultPoint, faultsArmed } from './faults.js';
// eslint-disable-next-line import-x/no-cycle -- hotplug-scripts.ts takes HotplugError from here (see there)
import { HOTPLUG_SCRIPT_TIMEOUT_MS, runHotplugScript } from './hotplug-scripts.js';
import { defaultQmpSocketPath, executeQmp, QMP_TIMEOUT_MS } from './qmp.js';

/** libxl's LIBXL_INIT_TIMEOUT and LIBXL_DESTROY_TIMEOUT. */
export const BACKEND_INIT_TIMEOUT_MS = 10_000;
export const BACKEND_CLOSE_TIMEOUT_MS = 10_000;

const DEFAULT_SCRIPT_DIR = '/etc/xen/scripts';
const MAX_DOMID = 0x7fef;
const XENBUS_INIT_WAIT = 2;
const XENBUS_CONNECTED = 4;
const XENBUS_CLOSED = 6;

export type HotplugErrorCode =
  | 'EINVAL'      // bad arguments or device fields
  | 'EEXIST'      // the device already exists in xenstore (libxl's ERROR_DEVICE_EXISTS)
  | 'ENODEV'      // no such device in /libxl/<domid>/device
  | 'ENODOMAIN'   // the domain has no /libxl/<domid>/type
  | 'ETIMEDOUT'   // the backend did not reach the state in time
  | 'EHOTPLUG'    // the backend or its hotplug script reported failure
  | 'EBUSY'       // the usb device or controller port is taken
  | 'EIO'         // a sysfs write of the host-side binding failed
  | 'EQMP'        // QEMU refused the device or could not be asked
  | 'ABORT_ERR';  // the signal was aborted after the device was committed

export class HotplugError extends Error {
  override name = 'HotplugError';
  constructor(
    readonly code: HotplugErrorCode,
    message: string,
    readonly details: {
      domid?: number;
      kind?: string;
      devid?: number;
      path?: string;
      /** Add: the device is in xenstore and in the template (both views agree). */
      committed?: boolean;
      /** What was added, when the failure came after commit. */
      device?: AddedDevice;
      cause?: unknown;
    } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }
}

export interface HotplugContext {
  xenstore: XenStore;
  templates: TemplateStore;
  /** libxl__xen_script_dir_path(); default /etc/xen/scripts. */
  scriptDir?: string;
  /**
   * Run the hotplug scripts of dom0's vbd and vif backends, as libxl does with
   * xl.conf's run_hotplug_scripts (default true). False where udev or another
   * agent runs them.
   */
  runHotplugScripts?: boolean;
  /** Written into PV disk frontends, as libxl does from xc_domain_get_native_protocol (default x86_64-abi). */
  nativeProtocol?: string;
  /** Where sysfs is mounted (default /sys): libxl looks there for usbback. */
  sysfsRoot?: string;
  /** QMP socket of a domain's QEMU (default /var/run/xen/qmp-libxl-<domid>). */
  qmpSocketPath?: (domid: number) => string;
  /** How long QEMU may take to answer (default 10 s, libxl's LIBXL_QMP_CMD_TIMEOUT). */
  qmpTimeoutMs?: number;
}

export interface AddDeviceOptions {
  /** Wait for the backend's InitWait at most this long (default 10 s, libxl's). */
  timeoutMs?: number;
  /** Wait for the hotplug script at most this long (default 40 s, libxl's). */
  scriptTimeoutMs?: number;
  /** Wait for the domain-userdata lock at most this long (default: the template store's). */
  lockTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface AddedDevice<Entry = DeviceEntry> {
  domid: number;
  /** Device-table name: 'disk', 'nic', 'vtpm'. */
  kind: string;
  devid: number;
  /** The template entry as stored (caller's fields plus generated devid, mac, uuid…). */
  entry: Entry;
  libxlPath: string;
  frontendPath: string;
  backendPath: string;
  /** Backend state once waited for (2 InitWait … 4 Connected); undefined for QEMU backends. */
  backendState: number | undefined;
  /** The backend's hotplug-status ("connected" once the hotplug script ran). */
  hotplugStatus: string | undefined;
}

export interface RemoveDeviceOptions {
  /**
   * false (default): libxl's remove — wait for Closed, then force after the timeout.
   * true: libxl's destroy — force at once. 'never': libxl's safe remove — fail on timeout.
   */
  force?: boolean | 'never';
  /** Wait for Closed at most this long, per attempt (default 10 s, libxl's). */
  timeoutMs?: number;
  /** Also drop the template entry with this identity, under the lock. */
  pruneTemplate?: boolean;
  lockTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface RemovedDevice {
  domid: number;
  kind: string;
  devid: number;
  /** Template identity of the device (vdev for disks, devid otherwise). */
  identity: string;
  backendPath: string;
  /** The frontend was cleaned up and the nodes removed without the backend closing. */
  forced: boolean;
  /** Template entries removed by pruneTemplate. */
  prunedEntries: number;
}

/** Kinds with libxl's write recipe and defaults. */
export function hotplugKinds(): string[] {
  return DEVICE_TYPES.filter((type) => type.add || type.attach).map((type) => type.name);
}

/** The descriptor of a kind named by a caller, among `types`: EINVAL for a name no descriptor has. */
export function deviceTypeNamed(kind: unknown, types: readonly DeviceType[] = DEVICE_TYPES): DeviceType {
  const type = types.find((candidate) => candidate.name === kind);
  if (!type) {
    throw new HotplugError('EINVAL', `unknown device kind ${JSON.stringify(kind)}: expected one of ${types.map((t) => t.name).join(', ')}`);
  }
  return type;
}

export async function addDevice(
  context: HotplugContext,
  domid: number,
  type: DeviceType,
  device: Partial<DeviceEntry>,
  options: AddDeviceOptions = {},
): Promise<AddedDevice> {
  checkDomid(domid);
  if (type.attach) {
    const attached = await attachDevice(context, domid, type, type.attach, device, options);
    if (attached) return attached;
  }
  const recipe = hotplugRecipe(type);
  const kind = type.name;
  const timeoutMs = checkTimeout(options.timeoutMs, BACKEND_INIT_TIMEOUT_MS);
  const { xenstore, templates } = context;
  const scriptDir = context.scriptDir ?? DEFAULT_SCRIPT_DIR;
  const domainType = await readDomainType(xenstore, domid);

  // libxl keeps a copy of the caller's struct for the template, fills the
  // defaults into the one it writes, then copies the generated values back.
  const saved = validatedEntry(type, device);
  if (saved.backend_domname !== null && saved.backend_domname !== undefined) {
    throw new HotplugError('EINVAL', `${kind}: backend_domname is not supported, give backend_domid`, { domid, kind });
  }
  const full = cloneDomainConfig(saved);
  try {
    await recipe.setDefault(full, { domid, domainType, hotplug: true, scriptDir, sysfsRoot: context.sysfsRoot ?? '/sys', read: (path) => xenstore.read(path) });
  } catch (error) {
    throw invalid(error, domid, kind);
  }
  const addContext = {
    domid,
    domainType,
    scriptDir,
    ...(domainType === 'pv' ? { nativeProtocol: context.nativeProtocol ?? 'x86_64-abi' } : {}),
  };

  let plan: DeviceAddPlan | undefined;
  const release = await templates.lock(domid, lockOptions(options));
  try {
    faultPoint('add.locked');
    const template = await templates.read(domid);
    const chooseDevid = recipe.nextDevid && full.devid === -1;
    await xenstore.transaction(async (tx) => {
      // The devid is chosen inside the transaction: a concurrent add of the
      // same kind makes this one rerun and pick the next id.
      if (chooseDevid) full.devid = await nextDevid(tx, domid, recipe.frontendKind(full));
      recipe.updateConfig(saved, full);
      plan = planAdd(recipe, full, addContext, domid, kind);
      if (await deviceExists(tx, plan)) {
        throw new HotplugError('EEXIST', `${kind} ${plan.devid} of domain ${domid} already exists (${plan.libxlPath})`, {
          domid, kind, devid: plan.devid, path: plan.libxlPath,
        });
      }
      await templates.write(domid, withEntry(template, type, saved));
      faultPoint('add.template-written');
      await writeDeviceAdd(faultsArmed ? reportingGroups(tx, plan) : tx, plan);
      faultPoint('add.backend-written');
      faultPoint('add.before-commit');
    }, options.signal ? { signal: options.signal } : {});
    faultPoint('add.after-commit');
  } finally {
    await release();
  }
  faultPoint('add.unlocked');

  const added: AddedDevice = {
    domid,
    kind,
    devid: plan!.devid,
    entry: saved,
    libxlPath: plan!.libxlPath,
    frontendPath: plan!.frontendPath,
    backendPath: plan!.backendPath,
    backendState: undefined,
    hotplugStatus: undefined,
  };
  try {
    const waits = recipe.waitsForBackend !== false;
    if (waits && !recipe.qemuBackend(plan!.backendKind)) await waitForBackendInit(xenstore, added, timeoutMs, options.signal);
    if (waits && context.runHotplugScripts !== false && plan!.backendDomid === 0) {
      const target = { domid, devid: added.devid, backendKind: plan!.backendKind, backendPath: added.backendPath };
      await runHotplugScript(xenstore, recipe, target, 'add', {
        timeoutMs: checkTimeout(options.scriptTimeoutMs, HOTPLUG_SCRIPT_TIMEOUT_MS),
        ...signalOption(options.signal),
      });
    }
    await readHotplugStatus(xenstore, added);
  } catch (error) {
    // The device is in both views: report what was added with the failure.
    if (error instanceof HotplugError) {
      throw new HotplugError(error.code, error.message, { ...error.details, committed: true, device: added });
    }
    if (error instanceof AbortError) {
      throw new HotplugError('ABORT_ERR', `aborted while waiting for ${added.backendPath}; the device was added`, {
        domid, kind, devid: added.devid, committed: true, device: added, cause: error,
      });
    }
    throw error;
  }
  faultPoint('add.backend-ready');
  return added;
}

export async function removeDevice(
  context: HotplugContext,
  domid: number,
  type: DeviceType,
  identity: string | number,
  options: RemoveDeviceOptions = {},
): Promise<RemovedDevice> {
  checkDomid(domid);
  const kind = type.name;
  const timeoutMs = checkTimeout(options.timeoutMs, BACKEND_CLOSE_TIMEOUT_MS);
  if (options.force !== undefined && typeof options.force !== 'boolean' && options.force !== 'never') {
    throw new HotplugError('EINVAL', `invalid force ${String(options.force)}: expected true, false or 'never'`, { domid, kind });
  }
  if (type.attach) {
    const detached = await detachDevice(context, domid, type, type.attach, identity, options);
    if (detached) return detached;
  }
  const { xenstore, templates } = context;
  const found = await findLiveDevice(xenstore, domid, type, identity);
  const { nodes, key } = found;
  const statePath = `${nodes.backendPath}/state`;
  const blocked = await type.removalBlocked?.(xenstore, nodes.backendPath);
  if (blocked) throw new HotplugError('EINVAL', `${kind} ${nodes.devid} of domain ${domid}: ${blocked}`, { domid, kind, devid: nodes.devid });

  let force = options.force === true;
  let forced = false;
  for (;;) {
    const closing = await xenstore.transaction((tx) => writeDeviceClosing(tx, nodes, { force }), signalOption(options.signal));
    forced ||= force;
    faultPoint('remove.closing-committed');
    if (closing === 'absent') break; // backend already gone: clean up the rest
    const closed = await waitFor(xenstore, statePath, (state) => state === String(XENBUS_CLOSED) || state === undefined, timeoutMs, options.signal);
    if (closed.reached) break;
    if (options.force !== 'never' && !force) {
      force = true; // libxl's FORCE_AUTO: restart the removal forced
      continue;
    }
    if (options.force === 'never') {
      throw new HotplugError('ETIMEDOUT', `backend ${nodes.backendPath} did not close within ${timeoutMs} ms`, {
        domid, kind, devid: nodes.devid, path: statePath,
      });
    }
    break; // forced and still not closed: destroy anyway, as libxl does
  }
  faultPoint('remove.backend-closed');
  // libxl destroys the nodes even when the script fails, and reports the failure.
  let scriptFailure: unknown;
  if (type.add && context.runHotplugScripts !== false && nodes.backendDomid === 0 && await xenstore.read(nodes.backendPath) !== undefined) {
    const target = { domid, devid: nodes.devid, backendKind: nodes.backendKind, backendPath: nodes.backendPath };
    await runHotplugScript(xenstore, type.add, target, 'remove', signalOption(options.signal)).catch((error: unknown) => { scriptFailure = error; });
  }

  if (nodes.backendDomid !== 0) {
    // A driver domain removes its own backend dir; give it the same time libxl does.
    await waitFor(xenstore, nodes.backendPath, (value) => value === undefined, timeoutMs, options.signal);
  }
  faultPoint('remove.before-destroy');
  await xenstore.transaction((tx) => destroyDeviceNodes(ancestorsBestEffort(tx, nodes), nodes), signalOption(options.signal));
  faultPoint('remove.after-destroy');

  let prunedEntries = 0;
  if (options.pruneTemplate || type.entriesOptional) {
    prunedEntries = await templates.withLock(domid, async () => {
      // A concurrent add may have recreated the device: then the entry is live.
      if (await xenstore.read(nodes.libxlPath) !== undefined) return 0;
      const template = await templates.read(domid);
      const { config, removed } = withoutEntries(template, type, key);
      if (removed > 0) await templates.write(domid, config);
      faultPoint('remove.template-pruned');
      return removed;
    }, lockOptions(options));
  }
  if (scriptFailure) throw scriptFailure;
  return { domid, kind, devid: nodes.devid, identity: key, backendPath: nodes.backendPath, forced, prunedEntries };
}

// ---------------------------------------------------------------------------

function checkDomid(domid: unknown): asserts domid is number {
  if (typeof domid !== 'number' || !Number.isInteger(domid) || domid < 1 || domid > MAX_DOMID) {
    throw new HotplugError('EINVAL', `invalid guest domid ${String(domid)}: expected an integer from 1 to ${MAX_DOMID}`);
  }
}

function checkTimeout(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new HotplugError('EINVAL', `invalid timeout ${String(value)}: expected milliseconds >= 0`);
  }
  return value;
}

function lockOptions(options: { lockTimeoutMs?: number; signal?: AbortSignal }) {
  return {
    ...(options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs }),
    ...signalOption(options.signal),
  };
}

function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

// ---------------------------------------------------------------------------
// Kinds with an attach procedure of their own (a usb device at a controller's
// port): the same invariant, template and nodes in one transaction under the
// lock; the host-side step (sysfs binding, QMP) runs after the commit with
// the lock still held, and its failure restores template and nodes as they were.

const TYPED_ATTACH_CODES = new Set<string>(['EINVAL', 'ENODEV', 'EBUSY', 'EIO', 'EQMP', 'ETIMEDOUT']);

/** A kind's refusal or a failed host-side step as a HotplugError with its code. */
function attachFailure(error: unknown, domid: number, kind: string, committed = false): unknown {
  const code = (error as { code?: unknown })?.code;
  if (error instanceof HotplugError || typeof code !== 'string' || !TYPED_ATTACH_CODES.has(code)) return error;
  const message = (error as Error).message;
  return new HotplugError(code as HotplugErrorCode, message.startsWith(`${kind}:`) ? message : `${kind}: ${message}`, { domid, kind, committed, cause: error });
}

function attachContext(context: HotplugContext, domid: number, domainType: DomainType, options: AddDeviceOptions): AttachContext {
  const socketPath = (context.qmpSocketPath ?? defaultQmpSocketPath)(domid);
  return {
    domid,
    domainType,
    sysfsRoot: context.sysfsRoot ?? '/sys',
    xenstore: context.xenstore,
    qmp: (command, args) => executeQmp(socketPath, domid, command, args, { timeoutMs: context.qmpTimeoutMs ?? QMP_TIMEOUT_MS, ...signalOption(options.signal) }),
    addDevice: async (other, device) => ({ devid: (await addDevice(context, domid, other, device, options)).devid }),
  };
}

/** The nodes as they were before `writes`: old values to put back, and the topmost new node of each path to remove. */
async function undoOf(ops: XenStoreOps, writes: KeyValues): Promise<{ restore: KeyValues; remove: string[] }> {
  const restore: Array<readonly [string, string]> = [];
  const remove = new Set<string>();
  for (const [path] of writes) {
    const value = await ops.read(path);
    if (value !== undefined) {
      restore.push([path, value]);
      continue;
    }
    let topmost = path;
    for (let parent = path.slice(0, path.lastIndexOf('/')); parent !== '' && await ops.read(parent) === undefined; parent = parent.slice(0, parent.lastIndexOf('/'))) topmost = parent;
    remove.add(topmost);
  }
  return { restore, remove: [...remove] };
}

async function attachDevice(
  context: HotplugContext, domid: number, type: DeviceType, recipe: AttachRecipe, device: Partial<DeviceEntry>, options: AddDeviceOptions,
): Promise<AddedDevice | undefined> {
  const kind = type.name;
  const { xenstore, templates } = context;
  const domainType = await readDomainType(xenstore, domid);
  // libxl saves the struct as its setdefault left it (usbdev has no update_config).
  const entry = validatedEntry(type, device);
  let step: AttachStep | undefined;
  try {
    step = await recipe.attach(entry, attachContext(context, domid, domainType, options));
  } catch (error) {
    throw invalid(attachFailure(error, domid, kind), domid, kind);
  }
  if (!step) return undefined;
  const release = await templates.lock(domid, lockOptions(options));
  try {
    faultPoint('add.locked');
    const before = await templates.readText(domid);
    const template = await templates.read(domid);
    let undo: Awaited<ReturnType<typeof undoOf>> = { restore: [], remove: [] };
    await xenstore.transaction(async (tx) => {
      const refused = await step.recheck?.((path) => tx.read(path));
      if (refused) throw new HotplugError('EBUSY', `${kind}: ${refused}`, { domid, kind, path: step.path });
      undo = await undoOf(tx, step.writes);
      await templates.write(domid, withEntry(template, type, entry));
      faultPoint('add.template-written');
      for (const [path, value] of step.writes) await tx.write(path, value);
      faultPoint('add.before-commit');
    }, signalOption(options.signal));
    faultPoint('add.after-commit');
    try {
      await step.after?.();
    } catch (error) {
      await xenstore.transaction(async (tx) => {
        for (const [path, value] of undo.restore) await tx.write(path, value);
        for (const path of undo.remove) await tx.rm(path);
      });
      await templates.write(domid, before);
      throw attachFailure(error, domid, kind);
    }
  } finally {
    await release();
  }
  faultPoint('add.unlocked');
  return {
    domid, kind, devid: step.devid, entry, libxlPath: step.libxlPath, frontendPath: step.frontendPath, backendPath: step.path,
    backendState: undefined, hotplugStatus: undefined,
  };
}

async function detachDevice(
  context: HotplugContext, domid: number, type: DeviceType, recipe: AttachRecipe, identity: string | number, options: RemoveDeviceOptions,
): Promise<RemovedDevice | undefined> {
  const kind = type.name;
  const { xenstore, templates } = context;
  const domainType = await readDomainType(xenstore, domid);
  let step: AttachStep | undefined;
  try {
    step = await recipe.detach(String(identity), attachContext(context, domid, domainType, options));
    await step?.before?.();
  } catch (error) {
    throw attachFailure(error, domid, kind);
  }
  if (!step) return undefined;
  const { path, key } = step;
  faultPoint('remove.before-destroy');
  await xenstore.transaction(async (tx) => {
    for (const [path, value] of step.writes) await tx.write(path, value);
    for (const path of step.removes) await cleanupPath(tx, path);
  }, signalOption(options.signal));
  faultPoint('remove.after-destroy');
  try {
    await step.after?.();
  } catch (error) {
    throw attachFailure(error, domid, kind, true);
  }
  // libxl removes its notes once the rebind is done (usbdev_rebind).
  for (const path of step.cleanup ?? []) await xenstore.rm(path).catch((error: unknown) => { if ((error as { code?: string }).code !== 'ENOENT') throw error; });
  let prunedEntries = 0;
  if (options.pruneTemplate) {
    prunedEntries = await templates.withLock(domid, async () => {
      // A concurrent attach may have taken the port again: then the entry is live.
      if ((await xenstore.read(path) ?? '') !== '') return 0;
      const { config, removed } = withoutEntries(await templates.read(domid), type, key);
      if (removed > 0) await templates.write(domid, config);
      faultPoint('remove.template-pruned');
      return removed;
    }, lockOptions(options));
  }
  return { domid, kind, devid: step.devid, identity: step.key, backendPath: step.path, forced: false, prunedEntries };
}

function hotplugRecipe(type: DeviceType): HotplugRecipe {
  if (!type.add) {
    throw new HotplugError('EINVAL', `adding ${type.name} devices is not supported: expected one of ${hotplugKinds().join(', ')}`, { kind: type.name });
  }
  return type.add;
}

/** The caller's fields over libxl's *_init values, checked by a round trip through libxl-json. */
function validatedEntry(type: DeviceType, device: unknown): DeviceEntry {
  const kind = type.name;
  if (typeof device !== 'object' || device === null || Array.isArray(device)) {
    throw new HotplugError('EINVAL', `${kind}: the device must be an object of libxl_device_${kind} fields`, { kind });
  }
  const entry = completeStruct(type.schema, device as DeviceEntry) as never;
  try {
    return parseStruct(type.schema, formatStruct(type.schema, entry)) as DeviceEntry;
  } catch (error) {
    throw invalid(error, undefined, kind);
  }
}

function invalid(error: unknown, domid: number | undefined, kind: string): unknown {
  if (error instanceof ConfigError || error instanceof DeviceDefaultsError || (error as { code?: string })?.code === 'EINVAL') {
    return new HotplugError('EINVAL', `${kind}: ${(error as Error).message}`, { ...(domid === undefined ? {} : { domid }), kind, cause: error });
  }
  return error;
}

function planAdd(recipe: HotplugRecipe, entry: DeviceEntry, context: Parameters<typeof planDeviceAdd>[2], domid: number, kind: string): DeviceAddPlan {
  try {
    return planDeviceAdd(recipe, entry, context);
  } catch (error) {
    throw invalid(error, domid, kind);
  }
}

async function readDomainType(xenstore: XenStore, domid: number): Promise<DomainType> {
  const value = await xenstore.read(`/libxl/${domid}/type`);
  if (value === 'pv' || value === 'pvh' || value === 'hvm') return value;
  if (value === undefined) throw new HotplugError('ENODOMAIN', `domain ${domid} has no /libxl/${domid}/type: it does not exist or libxl did not build it`, { domid });
  throw new HotplugError('ENODOMAIN', `domain ${domid}: /libxl/${domid}/type is ${JSON.stringify(value.slice(0, 32))}, not pv, pvh or hvm`, { domid });
}

/**
 * The next free devid of a kind: one more than the highest listed. (libxl
 * takes the last listed child plus one, which is only right while children
 * list in ascending order.)
 */
async function nextDevid(ops: XenStoreOps, domid: number, xenstoreKind: string): Promise<number> {
  const children = (await ops.list(`/libxl/${domid}/device/${xenstoreKind}`)) ?? [];
  let highest = -1;
  for (const name of children) {
    if (/^(0|[1-9][0-9]{0,9})$/.test(name)) highest = Math.max(highest, Number(name));
  }
  return highest + 1;
}

/** libxl's device_add_domain_config: the last entry with the same identity is replaced, else the entry is appended. */
function withEntry(template: DomainConfig, type: DeviceType, entry: DeviceEntry): DomainConfig {
  const config = cloneDomainConfig(template);
  const array = (config as unknown as Record<string, DeviceEntry[]>)[type.array]!;
  const key = type.keyOf(entry);
  let index = -1;
  array.forEach((existing, i) => { if (key !== undefined && type.keyOf(existing) === key) index = i; });
  if (index >= 0) array[index] = cloneDomainConfig(entry);
  else array.push(cloneDomainConfig(entry));
  return config;
}

function withoutEntries(template: DomainConfig, type: DeviceType, key: string): { config: DomainConfig; removed: number } {
  const config = cloneDomainConfig(template);
  const record = config as unknown as Record<string, DeviceEntry[]>;
  const before = record[type.array]!;
  record[type.array] = before.filter((entry) => type.keyOf(entry) !== key);
  return { config, removed: before.length - record[type.array]!.length };
}

/** Marks the end of each group of writeDeviceAdd's writes as a fault point. */
function reportingGroups(ops: XenStoreWriteOps, plan: DeviceAddPlan): XenStoreWriteOps {
  let group: 'libxl' | 'frontend' | 'backend' = 'libxl';
  const enter = (path: string) => {
    if (group === 'libxl' && path.startsWith(plan.frontendPath)) {
      faultPoint('add.libxl-written');
      group = 'frontend';
    } else if (group === 'frontend' && path.startsWith(plan.backendPath)) {
      faultPoint('add.frontend-written');
      group = 'backend';
    }
  };
  return {
    read: (path) => ops.read(path),
    list: (path) => ops.list(path),
    write: (path, value) => { enter(path); return ops.write(path, value); },
    mkdir: (path) => { enter(path); return ops.mkdir(path); },
    rm: (path) => { enter(path); return ops.rm(path); },
    setPermissions: (path, perms) => { enter(path); return ops.setPermissions(path, perms); },
  };
}

/**
 * libxl__xs_path_cleanup ignores a failure to remove an emptied parent dir
 * (xenstored can refuse one another client is changing in a transaction);
 * the device's own nodes must go.
 */
function ancestorsBestEffort(ops: XenStoreWriteOps, nodes: DeviceNodes): XenStoreWriteOps {
  const own = new Set([nodes.frontendPath, nodes.backendPath, nodes.libxlPath]);
  return {
    read: (path) => ops.read(path),
    list: (path) => ops.list(path),
    write: (path, value) => ops.write(path, value),
    mkdir: (path) => ops.mkdir(path),
    setPermissions: (path, perms) => ops.setPermissions(path, perms),
    rm: async (path) => {
      try {
        await ops.rm(path);
      } catch (error) {
        if (own.has(path) || (error as { code?: string }).code === 'EAGAIN') throw error;
      }
    },
  };
}

/** A device named by its template identity (vdev, devid…) or by its devid, from the trusted /libxl tree. */
async function findLiveDevice(
  xenstore: XenStore,
  domid: number,
  type: DeviceType,
  identity: string | number,
): Promise<{ nodes: DeviceNodes; key: string }> {
  if (!(typeof identity === 'string' && identity !== '') && !(typeof identity === 'number' && Number.isInteger(identity) && identity >= 0)) {
    throw new HotplugError('EINVAL', `invalid ${type.name} identity ${String(identity)}: expected its ${type.identity} or devid`, { domid, kind: type.name });
  }
  const tree = await xenstore.readTree(`/libxl/${domid}/device`);
  const live = type.listLive({ domid, libxlDevices: tree, values: new Map(), trees: new Map() });
  const wanted = String(identity);
  const device = live.devices.find((candidate) => candidate.key === wanted)
    ?? live.devices.find((candidate) => candidate.path.endsWith(`/${wanted}`));
  if (!device) {
    const problem = live.problems.find((p) => p.path.endsWith(`/${wanted}`));
    throw new HotplugError('ENODEV', `domain ${domid} has no ${type.name} ${wanted}${problem ? ` (${problem.path}: ${problem.reason})` : ''}`, {
      domid, kind: type.name, ...(problem ? { path: problem.path } : {}),
    });
  }
  const segments = device.path.split('/'); // /libxl/<domid>/device/<kind>/<devid>
  const frontendKind = segments[4]!;
  const devid = Number(segments[5]);
  const backendValue = await xenstore.read(`${device.path}/backend`);
  let backend;
  try {
    backend = parseBackendPath(`${device.path}/backend`, backendValue);
  } catch (error) {
    if (!(error instanceof XenstoreValueError)) throw error;
    throw new HotplugError('ENODEV', error.message, { domid, kind: type.name, devid, path: `${device.path}/backend`, cause: error });
  }
  if (backend.frontendDomid !== domid || backend.devid !== devid) {
    throw new HotplugError('ENODEV', `${device.path}/backend names another device (${backendValue})`, { domid, kind: type.name, devid, path: `${device.path}/backend` });
  }
  return { nodes: deviceNodes(domid, frontendKind, devid, backend.backendKind, backend.backendDomid), key: device.key };
}

/** libxl__wait_device_connection (QEMU backends skip it): InitWait (or beyond); the hotplug script runs next. */
async function waitForBackendInit(xenstore: XenStore, added: AddedDevice, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const statePath = `${added.backendPath}/state`;
  const details = { domid: added.domid, kind: added.kind, devid: added.devid, path: statePath };
  const result = await waitFor(xenstore, statePath, (state) => state === undefined || Number(state) >= XENBUS_INIT_WAIT, timeoutMs, signal);
  if (!result.reached) {
    throw new HotplugError('ETIMEDOUT', `backend ${added.backendPath} did not reach InitWait within ${timeoutMs} ms`, details);
  }
  const state = result.value === undefined ? undefined : Number(result.value);
  if (state === undefined || state > XENBUS_CONNECTED) {
    throw new HotplugError('EHOTPLUG', `backend ${added.backendPath} ${state === undefined ? 'was removed' : `went to state ${state}`} before InitWait`, details);
  }
  added.backendState = state;
}

/** The backend's hotplug-status once the script ran ("error" is a failure). */
async function readHotplugStatus(xenstore: XenStore, added: AddedDevice): Promise<void> {
  const details = { domid: added.domid, kind: added.kind, devid: added.devid };
  const [status, error] = await xenstore.readMany([`${added.backendPath}/hotplug-status`, `${added.backendPath}/hotplug-error`]);
  added.hotplugStatus = status;
  if (status === 'error') {
    throw new HotplugError('EHOTPLUG', `hotplug script of ${added.backendPath} failed${error ? `: ${error.slice(0, 512)}` : ''}`, {
      ...details, path: `${added.backendPath}/hotplug-status`,
    });
  }
}

/**
 * Watches path until done(value) holds, for at most timeoutMs. The watch's
 * initial event covers a value reached before the watch was set. Aborting
 * the signal rejects with an AbortError.
 */
async function waitFor(
  xenstore: XenStore,
  path: string,
  done: (value: string | undefined) => boolean,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ reached: boolean; value?: string | undefined }> {
  if (signal?.aborted) throw new AbortError(signal);
  // The timeout and the caller's abort end the loop; which of them it was is told below.
  const events = xenstore.watch(path);
  const stop = () => { void events.return?.(); };
  const timer = setTimeout(stop, timeoutMs);
  signal?.addEventListener('abort', stop, { once: true });
  try {
    for await (const _event of events) {
      const value = await xenstore.read(path);
      if (done(value)) return { reached: true, value };
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
  }
  if (signal?.aborted) throw new AbortError(signal);
  return { reached: false };
}
