// Adding a device, as libxl__device_add: defaults; under the domain-userdata
// lock, one xenstore transaction (rerun on EAGAIN) that checks the device does
// not exist, writes the template, then the /libxl, frontend and backend nodes,
// and commits; then waits for the backend and runs its hotplug script.
import { cloneDomainConfig } from '../../config/index.js';
import {
  deviceExists,
  planDeviceAdd,
  writeDeviceAdd,
  type DeviceAddPlan,
  type DeviceEntry,
  type DeviceType,
  type HotplugRecipe,
  type XenStoreWriteOps,
} from '../../devices/index.js';
import { DEFAULT_SCRIPT_DIR } from '../../xen.js';
import { AbortError, type XenStoreOps } from '../../xenstore/index.js';
import { faultPoint, faultsArmed } from '../faults.js';
import { HOTPLUG_SCRIPT_TIMEOUT_MS, runHotplugScript } from '../hotplug-scripts.js';
import { attachDevice } from './attach.js';
import { readHotplugStatus, waitForBackendInit } from './backend.js';
import {
  BACKEND_INIT_TIMEOUT_MS,
  checkDomid,
  checkTimeout,
  HotplugError,
  hotplugKinds,
  invalid,
  lockOptions,
  readDomainType,
  signalOption,
  validatedEntry,
  withEntry,
  type AddDeviceOptions,
  type AddedDevice,
  type HotplugContext,
} from './common.js';

export async function addDevice(
  context: HotplugContext,
  domid: number,
  type: DeviceType,
  device: Partial<DeviceEntry>,
  options: AddDeviceOptions = {},
): Promise<AddedDevice> {
  checkDomid(domid);
  if (type.attach) {
    const attached = await attachDevice(context, domid, type, type.attach, device, options, addDevice);
    if (attached) return attached;
  }
  const recipe = hotplugRecipe(type);
  const kind = type.name;
  const timeoutMs = checkTimeout(options.timeoutMs, BACKEND_INIT_TIMEOUT_MS);
  const { xenstore, templates } = context;
  const scriptDir = context.scriptDir ?? DEFAULT_SCRIPT_DIR;
  // The uuid (for the template's file names) is read alongside the domain's
  // type, and awaited where it is needed, so a failure is reported in the same order.
  const uuidRead = templates.domainUuid(domid);
  uuidRead.catch(() => undefined);
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
  // Read once: the lock, the read and the write would each read it again.
  const uuid = await uuidRead;
  const release = await templates.lock(domid, { ...lockOptions(options), uuid });
  try {
    faultPoint('add.locked');
    const template = await templates.read(domid, { uuid });
    const chooseDevid = recipe.nextDevid && full.devid === -1;
    await xenstore.transaction(async (tx) => {
      // The devid is chosen inside the transaction: a concurrent add of the
      // same kind makes this one rerun and pick the next id.
      const listed = chooseDevid ? `/libxl/${domid}/device/${recipe.frontendKind(full)}` : undefined;
      if (listed) full.devid = await nextDevid(tx, listed);
      recipe.updateConfig(saved, full);
      plan = planAdd(recipe, full, addContext, domid, kind);
      // A devid chosen past every one listed in this transaction names no record: no read needed.
      if (plan.libxlPath !== `${listed}/${plan.devid}` && await deviceExists(tx, plan)) {
        throw new HotplugError('EEXIST', `${kind} ${plan.devid} of domain ${domid} already exists (${plan.libxlPath})`, {
          domid, kind, devid: plan.devid, path: plan.libxlPath,
        });
      }
      await templates.write(domid, withEntry(template, type, saved), { uuid });
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
    if (waits) await readHotplugStatus(xenstore, added); // a kind not waited for has no hotplug script
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

function hotplugRecipe(type: DeviceType): HotplugRecipe {
  if (!type.add) {
    throw new HotplugError('EINVAL', `adding ${type.name} devices is not supported: expected one of ${hotplugKinds().join(', ')}`, { kind: type.name });
  }
  return type.add;
}

function planAdd(recipe: HotplugRecipe, entry: DeviceEntry, context: Parameters<typeof planDeviceAdd>[2], domid: number, kind: string): DeviceAddPlan {
  try {
    return planDeviceAdd(recipe, entry, context);
  } catch (error) {
    throw invalid(error, domid, kind);
  }
}

/**
 * The next free devid of a kind: one more than the highest listed. (libxl
 * takes the last listed child plus one, which is only right while children
 * list in ascending order.)
 */
async function nextDevid(ops: XenStoreOps, dir: string): Promise<number> {
  const children = (await ops.list(dir)) ?? [];
  let highest = -1;
  for (const name of children) {
    if (/^(0|[1-9][0-9]{0,9})$/.test(name)) highest = Math.max(highest, Number(name));
  }
  return highest + 1;
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
