// listDevices: a domain's devices as libxl's *_list / *_getinfo report them —
// which exist and where, from the trusted /libxl/<domid>/device nodes (the
// kind's descriptor reads them), plus the backend's and the guest's view of
// the connection, which are shown and never acted on.
import { LISTED_DEVICE_TYPES, parseBackendPath, XenstoreValueError, type DeviceProblem, type DeviceType } from '../devices/index.js';
import { xenbusState, type ListedDevice, type ListingReader } from '../devices/listing.js';
import type { XenStore } from '../xenstore/index.js';

export type { GuestReported, ListedDevice } from '../devices/listing.js';

export interface DeviceListing {
  domid: number;
  devices: ListedDevice[];
  /** /libxl nodes that could not be read; each costs that one device. */
  problems: DeviceProblem[];
}

/** The devices of kind `type` (every kind with /libxl nodes of its own when undefined); `sysfsRoot` is where usb devices are looked up. */
export async function listDevices(xenstore: XenStore, domid: number, type?: DeviceType, sysfsRoot = '/sys'): Promise<DeviceListing> {
  const reader: ListingReader = { readMany: (paths) => xenstore.readMany(paths), readTree: (path) => xenstore.readTree(path), sysfsRoot };
  const kinds = type ? [type] : LISTED_DEVICE_TYPES;
  const devices: ListedDevice[] = [];
  const problems: DeviceProblem[] = [];
  // Kinds that list their devices themselves (pci, from dom0's backend dir).
  for (const kind of kinds) {
    if (!kind.list?.devices) continue;
    const listed = await kind.list.devices(domid, reader);
    devices.push(...listed.devices);
    problems.push(...listed.problems);
  }
  const generic = kinds.filter((kind) => !kind.list?.devices);
  if (generic.length === 0) return { domid, devices, problems };
  const libxlDevices = await xenstore.readTree(`/libxl/${domid}/device`);
  const view = { domid, libxlDevices, values: new Map(), trees: new Map() };
  const own = new RegExp(`^/libxl/${domid}/device/[^/]+/[0-9]+$`);
  const found: { type: DeviceType; key: string; path: string }[] = [];
  for (const kind of generic) {
    const live = kind.listLive(view);
    problems.push(...live.problems);
    // usb devices live in their controller's ports, not in nodes of their own.
    for (const device of live.devices) if (own.test(device.path)) found.push({ type: kind, key: device.key, path: device.path });
  }
  for (const { type: kind, key, path } of found) {
    const reported = ['state', ...(kind.reportedFrontendKeys ?? ['event-channel', 'ring-ref'])];
    const [backendValue, frontendValue] = await xenstore.readMany([`${path}/backend`, `${path}/frontend`]);
    let backend;
    try {
      backend = parseBackendPath(`${path}/backend`, backendValue);
    } catch (error) {
      if (!(error instanceof XenstoreValueError)) throw error;
      problems.push({ kind: kind.name, path: `${path}/backend`, reason: error.message });
      continue;
    }
    const devid = Number(path.slice(path.lastIndexOf('/') + 1));
    if (backend.frontendDomid !== domid || backend.devid !== devid) {
      problems.push({ kind: kind.name, path: `${path}/backend`, reason: `names another device (${backendValue})` });
      continue;
    }
    const frontendPath = `/local/domain/${domid}/device/${path.split('/')[4]}/${devid}`;
    if (frontendValue !== frontendPath) {
      problems.push({ kind: kind.name, path: `${path}/frontend`, reason: `is not ${frontendPath}` });
      continue;
    }
    const backendPath = backendValue!;
    const [backendState, ...values] = await xenstore.readMany([`${backendPath}/state`, ...reported.map((name) => `${frontendPath}/${name}`)]);
    const device: ListedDevice = {
      kind: kind.name,
      identity: key,
      devid,
      backendDomid: backend.backendDomid,
      libxlPath: path,
      frontendPath,
      backendPath,
      backendState: xenbusState(backendState),
      guestReported: { state: xenbusState(values[0]), values: Object.fromEntries(reported.map((name, i) => [name, values[i]])) },
    };
    try {
      devices.push(await withDetails(device, kind, reader));
    } catch (error) {
      if (!(error instanceof XenstoreValueError)) throw error;
      problems.push({ kind: kind.name, path: error.path, reason: error.reason });
    }
  }
  return { domid, devices, problems };
}

/** What the kind's xl list shows beyond the generic fields. */
async function withDetails(device: ListedDevice, kind: DeviceType, reader: ListingReader): Promise<ListedDevice> {
  if (!kind.list?.details) return device;
  const { details, reported } = await kind.list.details(device, reader);
  const { guestReported, ...rest } = device;
  return {
    ...rest,
    ...(details ? { details } : {}),
    guestReported: reported ? { ...guestReported, details: reported } : guestReported,
  };
}
