// Kinds with an attach procedure of their own (a usb device at a controller's
// port): the same invariant, template and nodes in one transaction under the
// lock; the host-side step (sysfs binding, QMP) runs after the commit with
// the lock still held, and its failure restores template and nodes as they were.
import {
  cleanupPaths,
  type AttachContext,
  type AttachRecipe,
  type AttachStep,
  type DeviceEntry,
  type DeviceType,
  type DomainType,
  type KeyValues,
} from '../../devices/index.js';
import type { XenStoreBatchStep, XenStoreOps } from '../../xenstore/index.js';
import { faultPoint } from '../faults.js';
import { defaultQmpSocketPath, executeQmp, QMP_TIMEOUT_MS } from '../qmp.js';
import {
  HotplugError,
  lockOptions,
  readDomainType,
  invalid,
  signalOption,
  validatedEntry,
  withEntry,
  withoutEntries,
  type AddDeviceOptions,
  type AddedDevice,
  type HotplugContext,
  type HotplugErrorCode,
  type RemoveDeviceOptions,
  type RemovedDevice,
} from './common.js';

/** addDevice, handed in by its module: a kind's attach may add another device first (usbdev its controller). */
export type AddDevice = (
  context: HotplugContext, domid: number, type: DeviceType, device: Partial<DeviceEntry>, options: AddDeviceOptions,
) => Promise<AddedDevice>;

const TYPED_ATTACH_CODES = new Set<string>(['EINVAL', 'ENODEV', 'EBUSY', 'EIO', 'EQMP', 'ETIMEDOUT']);

/** A kind's refusal or a failed host-side step as a HotplugError with its code. */
function attachFailure(error: unknown, domid: number, kind: string, committed = false): unknown {
  const code = (error as { code?: unknown })?.code;
  if (error instanceof HotplugError || typeof code !== 'string' || !TYPED_ATTACH_CODES.has(code)) return error;
  const message = (error as Error).message;
  return new HotplugError(code as HotplugErrorCode, message.startsWith(`${kind}:`) ? message : `${kind}: ${message}`, { domid, kind, committed, cause: error });
}

function attachContext(context: HotplugContext, domid: number, domainType: DomainType, options: AddDeviceOptions, addDevice: AddDevice): AttachContext {
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

/** Adds a device of a kind with an attach procedure; undefined when the kind leaves this one to the write recipe. */
export async function attachDevice(
  context: HotplugContext, domid: number, type: DeviceType, recipe: AttachRecipe, device: Partial<DeviceEntry>, options: AddDeviceOptions, addDevice: AddDevice,
): Promise<AddedDevice | undefined> {
  const kind = type.name;
  const { xenstore, templates } = context;
  const domainType = await readDomainType(xenstore, domid);
  // libxl saves the struct as its setdefault left it (usbdev has no update_config).
  const entry = validatedEntry(type, device);
  let step: AttachStep | undefined;
  try {
    step = await recipe.attach(entry, attachContext(context, domid, domainType, options, addDevice));
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
      await tx.batch(writeSteps(step.writes));
      faultPoint('add.before-commit');
    }, signalOption(options.signal));
    faultPoint('add.after-commit');
    try {
      await step.after?.();
    } catch (error) {
      await xenstore.transaction(async (tx) => {
        await tx.batch([...writeSteps(undo.restore), ...rmSteps(undo.remove)]);
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

/** Removes a device of a kind with an attach procedure; undefined when the kind leaves this one to the common removal. */
export async function detachDevice(
  context: HotplugContext, domid: number, type: DeviceType, recipe: AttachRecipe, identity: string | number, options: RemoveDeviceOptions, addDevice: AddDevice,
): Promise<RemovedDevice | undefined> {
  const kind = type.name;
  const { xenstore, templates } = context;
  const domainType = await readDomainType(xenstore, domid);
  let step: AttachStep | undefined;
  try {
    step = await recipe.detach(String(identity), attachContext(context, domid, domainType, options, addDevice));
    await step?.before?.();
  } catch (error) {
    throw attachFailure(error, domid, kind);
  }
  if (!step) return undefined;
  const { path, key } = step;
  faultPoint('remove.before-destroy');
  await xenstore.transaction(async (tx) => {
    await tx.batch(writeSteps(step.writes));
    await cleanupPaths(tx, step.removes);
  }, signalOption(options.signal));
  faultPoint('remove.after-destroy');
  try {
    await step.after?.();
  } catch (error) {
    throw attachFailure(error, domid, kind, true);
  }
  // libxl removes its notes once the rebind is done (usbdev_rebind).
  if (step.cleanup?.length) await xenstore.batch(rmSteps(step.cleanup));
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

function writeSteps(writes: KeyValues): XenStoreBatchStep[] {
  return writes.map(([path, value]) => ({ op: 'write', path, value }));
}

/** Removals of nodes that may be gone already (an rm step of a missing node succeeds). */
function rmSteps(paths: readonly string[]): XenStoreBatchStep[] {
  return paths.map((path) => ({ op: 'rm', path }));
}
