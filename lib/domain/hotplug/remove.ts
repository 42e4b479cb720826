// Removing a device, as libxl__device_remove: online=0 and state=Closing,
// wait for Closed (forcing after a timeout), then remove the nodes. The
// template is left alone (a stale entry is valid) unless pruning is asked for.
import {
  deviceNodes,
  destroyDeviceNodes,
  parseBackendPath,
  writeDeviceClosing,
  XenstoreValueError,
  type DeviceNodes,
  type DeviceType,
} from '../../devices/index.js';
import { childNamed } from '../../devices/live.js';
import type { XenStore } from '../../xenstore/index.js';
import { faultPoint } from '../faults.js';
import { runHotplugScript } from '../hotplug-scripts.js';
import { addDevice } from './add.js';
import { detachDevice } from './attach.js';
import { XenbusState } from '../../xen.js';
import {
  BACKEND_CLOSE_TIMEOUT_MS,
  checkDomid,
  checkTimeout,
  HotplugError,
  lockOptions,
  signalOption,
  withoutEntries,
  type HotplugContext,
  type RemoveDeviceOptions,
  type RemovedDevice,
} from './common.js';

const CLOSING = String(XenbusState.Closing);
const isClosed = (state: string | undefined) => state === String(XenbusState.Closed) || state === undefined;
/** Closing is written again at most this often over a backend's own state changes. */
const MAX_CLOSING_REWRITES = 3;

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
    const detached = await detachDevice(context, domid, type, type.attach, identity, options, addDevice);
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
  let closingRewrites = 0;
  for (;;) {
    const closing = await xenstore.transaction((tx) => writeDeviceClosing(tx, nodes, { force }), signalOption(options.signal));
    forced ||= force;
    faultPoint('remove.closing-committed');
    if (closing === 'absent') break; // backend already gone: clean up the rest
    // A backend's own late state change (InitWait after an add that does not
    // wait for it) may land over Closing: then Closing is said again, where
    // libxl would wait out its timeout and force.
    const overwritten = (state: string | undefined) => state !== CLOSING && closingRewrites < MAX_CLOSING_REWRITES;
    const closed = await xenstore.waitFor(statePath, (state) => isClosed(state) || overwritten(state), { timeoutMs, ...signalOption(options.signal) });
    if (closed.reached && isClosed(closed.value)) break;
    if (closed.reached) {
      closingRewrites++;
      continue;
    }
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
    await xenstore.waitFor(nodes.backendPath, (value) => value === undefined, { timeoutMs, ...signalOption(options.signal) });
  }
  faultPoint('remove.before-destroy');
  await xenstore.transaction((tx) => destroyDeviceNodes(tx, nodes), signalOption(options.signal));
  faultPoint('remove.after-destroy');

  let prunedEntries = 0;
  if (options.pruneTemplate || type.entriesOptional) {
    const uuid = await templates.domainUuid(domid);
    prunedEntries = await templates.withLock(domid, async () => {
      // The lock's domain check and the device record in one request.
      const [vm, record] = await xenstore.readMany([`/local/domain/${domid}/vm`, nodes.libxlPath]);
      templates.checkDomainVm(domid, uuid, vm);
      // A concurrent add may have recreated the device: then the entry is live.
      if (record !== undefined) return 0;
      const template = await templates.read(domid, { uuid });
      const { config, removed } = withoutEntries(template, type, key);
      if (removed > 0) await templates.write(domid, config, { uuid });
      faultPoint('remove.template-pruned');
      return removed;
    }, { ...lockOptions(options), uuid, checkDomain: false });
  }
  if (scriptFailure) throw scriptFailure;
  return { domid, kind, devid: nodes.devid, identity: key, backendPath: nodes.backendPath, forced, prunedEntries };
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
  // Only the kind's own directories, read together: one level of requests fewer than the whole device tree.
  const kindTrees = await Promise.all(type.xenstoreKinds.map((kind) => xenstore.readTree(`/libxl/${domid}/device/${kind}`)));
  const tree = { name: 'device', value: '', children: kindTrees.filter((kindTree) => kindTree !== undefined) };
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
  // The tree read above holds the node's keys: no second request for its backend.
  const backendValue = childNamed(childNamed(childNamed(tree, frontendKind), segments[5]!), 'backend')?.value;
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
