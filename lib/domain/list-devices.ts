// listDevices: a domain's devices as libxl's *_list / *_getinfo report them —
// which exist and where, from the trusted /libxl/<domid>/device nodes (the
// kind's descriptor reads them), plus the backend's and the guest's view of
// the connection, which are shown and never acted on.
import { DEVICE_TYPES, parseBackendPath, XenstoreValueError, type DeviceProblem, type DeviceType } from '../devices/index.js';
import type { XenStore } from '../xenstore/index.js';

/** Values the guest wrote into its own frontend dir: what it claims, never trusted. */
export interface GuestReported {
  /** XenbusState of the frontend (undefined when absent or not a number). */
  readonly state: number | undefined;
  /** The kind's frontend keys (event channel, ring references…), as written. */
  readonly values: Readonly<Record<string, string | undefined>>;
}

export interface ListedDevice {
  /** The kind's libxl name. */
  kind: string;
  /** Template identity (vdev for a disk, the devid otherwise). */
  identity: string;
  devid: number;
  backendDomid: number;
  /** /libxl/<domid>/device/<kind>/<devid> */
  libxlPath: string;
  frontendPath: string;
  backendPath: string;
  /** XenbusState in the backend dir (written by the backend domain): shown, never acted on. */
  backendState: number | undefined;
  guestReported: GuestReported;
}

export interface DeviceListing {
  domid: number;
  devices: ListedDevice[];
  /** /libxl nodes that could not be read; each costs that one device. */
  problems: DeviceProblem[];
}

/** The devices of kind `type` (every kind with /libxl nodes of its own when undefined). */
export async function listDevices(xenstore: XenStore, domid: number, type?: DeviceType): Promise<DeviceListing> {
  const libxlDevices = await xenstore.readTree(`/libxl/${domid}/device`);
  const view = { domid, libxlDevices, values: new Map(), trees: new Map() };
  const own = new RegExp(`^/libxl/${domid}/device/[^/]+/[0-9]+$`);
  const found: { type: DeviceType; key: string; path: string }[] = [];
  const problems: DeviceProblem[] = [];
  for (const kind of type ? [type] : DEVICE_TYPES) {
    const live = kind.listLive(view);
    problems.push(...live.problems);
    // pci and usb devices live in dom0's backend dirs, not in nodes of their own.
    for (const device of live.devices) if (own.test(device.path)) found.push({ type: kind, key: device.key, path: device.path });
  }
  const devices: ListedDevice[] = [];
  for (const { type: kind, key, path } of found) {
    const reported = kind.reportedFrontendKeys ?? ['event-channel', 'ring-ref'];
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
    const [backendState, frontendState, ...values] = await xenstore.readMany([
      `${backendPath}/state`, `${frontendPath}/state`, ...reported.map((name) => `${frontendPath}/${name}`),
    ]);
    devices.push({
      kind: kind.name,
      identity: key,
      devid,
      backendDomid: backend.backendDomid,
      libxlPath: path,
      frontendPath,
      backendPath,
      backendState: xenbusState(backendState),
      guestReported: { state: xenbusState(frontendState), values: Object.fromEntries(reported.map((name, i) => [name, values[i]])) },
    });
  }
  return { domid, devices, problems };
}

function xenbusState(value: string | undefined): number | undefined {
  return value !== undefined && /^[0-9]$/.test(value) ? Number(value) : undefined;
}
