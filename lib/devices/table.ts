// ONE table of device kinds, modelled on libxl's device_type_tbl: for each
// kind, its JSON array, how a template entry is identified, how xenstore says
// the device exists (from_xenstore equivalents, read defensively), the merge,
// and — for kinds that can be hotplugged — the exact nodes libxl writes.
// Adding a device kind is adding one entry here.
import {
  childNamed,
  leafValues,
  MAX_DEVICES_PER_KIND,
  type DeviceProblem,
  type FollowUpReads,
  type LiveDevice,
  type LiveList,
  type LiveView,
  type XenStoreNode,
} from './live.js';
import {
  formatPciAddress,
  MAX_LONG_VALUE,
  optionalValue,
  parseBackendPath,
  parseEnum,
  parsePciAddress,
  parseSmallUint,
  requireValue,
  XenstoreValueError,
} from './parse.js';
import type { AddRecipe } from './writes.js';
import { diskAddRecipe, nicAddRecipe, vtpmAddRecipe } from './recipes.js';

/** A template device entry: a libxl device struct in its JSON form. */
export type DeviceEntry = Record<string, unknown>;

export type DeviceArrayName =
  | 'disks' | 'nics' | 'vtpms' | 'usbctrls' | 'usbdevs' | 'pcidevs' | 'vdispls' | 'vsnds';

export interface DeviceType {
  /** Table name, as libxl's `type` ("disk", "nic", …). */
  readonly name: string;
  /** Directories under /libxl/<domid>/device that list this kind (frontend kind names). */
  readonly xenstoreKinds: readonly string[];
  /** Keys read under each /libxl/<domid>/device/<kind>/<devid> node: only what identity and merge use. */
  readonly nodeKeys: readonly string[];
  /** Subdirectories read whole under each node (usb ports). */
  readonly nodeTrees?: readonly string[];
  /** The libxl_domain_config array holding the kind's entries. */
  readonly array: DeviceArrayName;
  /** Human name of the identity ("vdev", "devid", …). */
  readonly identity: string;
  /** Identity of a template entry; undefined when the entry has none (it can never match). */
  keyOf(entry: DeviceEntry): string | undefined;
  /** Paths to read together with the domain's scalars. */
  probe?(domid: number): string[];
  /**
   * A dom0 directory whose children are the domids the probe can find
   * anything for: a list of many domains lists it once and probes only those.
   */
  readonly probeDomains?: string;
  /** Reads needed once the first batch is known (kept empty in the common case). */
  followUp?(view: Omit<LiveView, 'trees'>): FollowUpReads;
  /** The devices xenstore says exist, and the entries it could not read. */
  listLive(view: LiveView): LiveList;
  /** Combines the live device with the template entry matched to it (libxl's merge hook). */
  merge?(live: LiveDevice, entry: DeviceEntry): DeviceEntry;
  /** libxl's writes for adding this kind (libxl__device_generic_add and the kind's set_xenstore_config). */
  readonly add?: AddRecipe;
}

// ---------------------------------------------------------------------------
// Reading /libxl/<domid>/device/<kind>/<devid> nodes

type NodeReader = (node: { path: string; devid: number; values: Map<string, string>; tree: XenStoreNode }) => LiveDevice;

/** One live device per /libxl/<domid>/device/<kind>/<devid>; a bad node is one problem. */
function listLibxlNodes(view: LiveView, name: string, kinds: readonly string[], read: NodeReader): LiveList {
  const devices: LiveDevice[] = [];
  const problems: DeviceProblem[] = [];
  for (const kind of kinds) {
    const dir = childNamed(view.libxlDevices, kind);
    if (!dir) continue;
    const base = `/libxl/${view.domid}/device/${kind}`;
    for (const child of dir.children.slice(0, MAX_DEVICES_PER_KIND)) {
      const path = `${base}/${child.name}`;
      try {
        const devid = parseSmallUint(path, child.name);
        devices.push(read({ path, devid, values: leafValues(child), tree: child }));
      } catch (error) {
        problems.push({ kind: name, path, reason: reasonOf(error) });
      }
    }
    if (dir.children.length > MAX_DEVICES_PER_KIND) {
      problems.push({ kind: name, path: base, reason: `more than ${MAX_DEVICES_PER_KIND} entries; the rest were not read` });
    }
  }
  return { devices, problems };
}

function reasonOf(error: unknown): string {
  if (error instanceof XenstoreValueError) return error.message;
  throw error;
}

/** `backend` must name a backend dir of this very device's domain and devid. */
function checkedBackend(path: string, values: Map<string, string>, domid: number) {
  const backend = parseBackendPath(`${path}/backend`, values.get('backend'));
  if (backend.frontendDomid !== domid) {
    throw new XenstoreValueError(`${path}/backend`, `backend path is for domain ${backend.frontendDomid}`, values.get('backend'));
  }
  return backend;
}

function domidOfPath(path: string): number {
  return Number(path.split('/')[2]);
}

/** Kinds whose identity is the devid and whose /libxl node must name a backend. */
function devidKind(name: string, kind: string, array: DeviceArrayName, extra: Partial<DeviceType> = {}): DeviceType {
  return {
    name,
    xenstoreKinds: [kind],
    nodeKeys: ['backend'],
    array,
    identity: 'devid',
    keyOf: (entry) => integerKey(entry.devid),
    listLive: (view) => listLibxlNodes(view, name, [kind], ({ path, devid, values }) => {
      checkedBackend(path, values, view.domid);
      return { kind: name, key: String(devid), path };
    }),
    ...extra,
  };
}

function integerKey(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value) : undefined;
}

// ---------------------------------------------------------------------------
// disk (libxl__disk_from_xenstore, libxl_device_disk_merge)

const DISK_KINDS = ['vbd', 'virtio_disk'] as const;

function readDisk({ path, values }: Parameters<NodeReader>[0], view: LiveView): LiveDevice {
  const domid = domidOfPath(path);
  checkedBackend(path, values, domid);
  const vdev = requireValue(`${path}/dev`, values.get('dev'));
  if (vdev === '') throw new XenstoreValueError(`${path}/dev`, 'empty', vdev);
  const removable = parseSmallUint(`${path}/removable`, values.get('removable'), 1);
  if (removable !== 1) return { kind: 'disk', key: vdev, path, ejected: false };
  // Only removable media can be ejected: params is read for those alone (a follow-up).
  const params = optionalValue(`${path}/params`, view.values.get(`${path}/params`), MAX_LONG_VALUE);
  // libxl: everything after the first ':' ("<format>:<path>" for qdisk) is the media.
  const colon = params?.indexOf(':') ?? -1;
  const media = params !== undefined && colon >= 0 ? params.slice(colon + 1) : params;
  return { kind: 'disk', key: vdev, path, ejected: !media };
}

/** params of the removable disks, read once their `removable` is known. */
function removableDiskParams(view: Omit<LiveView, 'trees'>): string[] {
  const paths: string[] = [];
  for (const kind of DISK_KINDS) {
    for (const node of childNamed(view.libxlDevices, kind)?.children.slice(0, MAX_DEVICES_PER_KIND) ?? []) {
      if (childNamed(node, 'removable')?.value === '1') paths.push(`/libxl/${view.domid}/device/${kind}/${node.name}/params`);
    }
  }
  return paths;
}

function listDisks(view: LiveView): LiveList {
  const list = listLibxlNodes(view, 'disk', DISK_KINDS, (node) => readDisk(node, view));
  // The same vdev under both vbd and virtio_disk is ambiguous: report both, keep neither.
  const seen = new Map<string, LiveDevice>();
  const duplicated = new Set<string>();
  for (const device of list.devices) {
    if (seen.has(device.key)) duplicated.add(device.key);
    else seen.set(device.key, device);
  }
  if (duplicated.size === 0) return list;
  const problems = [...list.problems];
  for (const device of list.devices) {
    if (duplicated.has(device.key)) problems.push({ kind: 'disk', path: device.path, reason: `vdev ${device.key} is listed more than once` });
  }
  return { devices: list.devices.filter((device) => !duplicated.has(device.key)), problems };
}

// ---------------------------------------------------------------------------
// pci (libxl__device_pci_from_xs_be): dom0's own backend dir, as libxl

const MAX_PCI_DEVICES = 256;

const PCI_BACKENDS = '/local/domain/0/backend/pci';

function pciBackend(domid: number): string {
  return `${PCI_BACKENDS}/${domid}/0`;
}

function pciCount(view: Omit<LiveView, 'trees'>): { count: number } | { problem: DeviceProblem } | undefined {
  const path = `${pciBackend(view.domid)}/num_devs`;
  const value = view.values.get(path);
  if (value === undefined) return undefined;
  try {
    return { count: parseSmallUint(path, value, MAX_PCI_DEVICES) };
  } catch (error) {
    return { problem: { kind: 'pci', path, reason: reasonOf(error) } };
  }
}

function listPci(view: LiveView): LiveList {
  const counted = pciCount(view);
  if (!counted) return { devices: [], problems: [] };
  if ('problem' in counted) return { devices: [], problems: [counted.problem] };
  const devices: LiveDevice[] = [];
  const problems: DeviceProblem[] = [];
  for (let i = 0; i < counted.count; i++) {
    const path = `${pciBackend(view.domid)}/dev-${i}`;
    try {
      devices.push({ kind: 'pci', key: formatPciAddress(parsePciAddress(path, view.values.get(path))), path });
    } catch (error) {
      problems.push({ kind: 'pci', path, reason: reasonOf(error) });
    }
  }
  return { devices, problems };
}

function pciKey(entry: DeviceEntry): string | undefined {
  const { domain, bus, dev, func } = entry;
  const fields = [domain, bus, dev, func];
  if (!fields.every((field) => typeof field === 'number' && Number.isInteger(field) && field >= 0)) return undefined;
  return formatPciAddress({ domain: domain as number, bus: bus as number, dev: dev as number, func: func as number });
}

// ---------------------------------------------------------------------------
// usbctrl / usbdev. A usbdev is a busid written at port <p> of controller
// <ctrl>: under /libxl/<domid>/device/vusb/<ctrl>/port for devicemodel
// controllers, under dom0's backend dir for pv/qusb ones (libxl only attaches
// usb devices to dom0-backed controllers). libxl has no from_xenstore for
// usbdev and so drops every usbdev on retrieve; here they are read.

const USB_TYPES = ['pv', 'qusb', 'devicemodel'] as const;
const MAX_USB_PORTS = 31;

function usbBackendTree(domid: number): string {
  return `/local/domain/0/backend/vusb/${domid}`;
}

interface UsbController {
  devid: number;
  path: string;
  type: (typeof USB_TYPES)[number];
  backendDomid: number | undefined;
  node: XenStoreNode;
}

function readUsbController({ path, devid, values, tree }: Parameters<NodeReader>[0]): UsbController {
  const type = parseEnum(`${path}/type`, values.get('type'), USB_TYPES);
  const domid = domidOfPath(path);
  const backendDomid = type === 'devicemodel' ? undefined : checkedBackend(path, values, domid).backendDomid;
  return { devid, path, type, backendDomid, node: tree };
}

function usbControllers(view: Omit<LiveView, 'trees'>): { controllers: UsbController[]; problems: DeviceProblem[] } {
  const controllers: UsbController[] = [];
  const list = listLibxlNodes({ ...view, trees: new Map() }, 'usbctrl', ['vusb'], (node) => {
    const controller = readUsbController(node);
    controllers.push(controller);
    return { kind: 'usbctrl', key: String(controller.devid), path: node.path };
  });
  return { controllers, problems: list.problems };
}

function listUsbdevs(view: LiveView): LiveList {
  const devices: LiveDevice[] = [];
  const problems: DeviceProblem[] = [];
  for (const controller of usbControllers(view).controllers) {
    let ports: XenStoreNode | undefined;
    let base: string;
    if (controller.type === 'devicemodel') {
      ports = childNamed(controller.node, 'port');
      base = `${controller.path}/port`;
    } else if (controller.backendDomid === 0) {
      ports = childNamed(childNamed(view.trees.get(usbBackendTree(view.domid)), String(controller.devid)), 'port');
      base = `${usbBackendTree(view.domid)}/${controller.devid}/port`;
    } else {
      continue; // usb devices are only attached to dom0-backed controllers
    }
    for (const port of ports?.children.slice(0, MAX_USB_PORTS) ?? []) {
      const path = `${base}/${port.name}`;
      try {
        const number = parseSmallUint(path, port.name, MAX_USB_PORTS);
        requireValue(path, port.value);
        if (port.value !== '') devices.push({ kind: 'usbdev', key: `${controller.devid}:${number}`, path });
      } catch (error) {
        problems.push({ kind: 'usbdev', path, reason: reasonOf(error) });
      }
    }
  }
  return { devices, problems };
}

function usbdevKey(entry: DeviceEntry): string | undefined {
  const ctrl = integerKey(entry.ctrl);
  const port = integerKey(entry.port);
  return ctrl === undefined || port === undefined ? undefined : `${ctrl}:${port}`;
}

// ---------------------------------------------------------------------------

/** In libxl's device_type_tbl order (the merge order). */
export const DEVICE_TYPES: readonly DeviceType[] = [
  {
    name: 'disk',
    xenstoreKinds: DISK_KINDS,
    nodeKeys: ['backend', 'dev', 'removable'],
    followUp: (view) => ({ values: removableDiskParams(view) }),
    array: 'disks',
    identity: 'vdev',
    keyOf: (entry) => (typeof entry.vdev === 'string' && entry.vdev !== '' ? entry.vdev : undefined),
    listLive: listDisks,
    // Removable media with nothing inserted in xenstore is ejected; otherwise
    // the template wins, since cdrom insert writes the template first.
    merge: (live, entry) => (live.ejected ? { ...entry, pdev_path: '', format: 'empty' } : entry),
    add: diskAddRecipe,
  },
  devidKind('nic', 'vif', 'nics', {
    // libxl__nic_from_xenstore takes the devid from `handle`, 0 when absent;
    // here the node's own devid decides and a disagreeing `handle` is a problem.
    listLive: (view) => listLibxlNodes(view, 'nic', ['vif'], ({ path, devid, values }) => {
      checkedBackend(path, values, view.domid);
      if (values.has('handle') && parseSmallUint(`${path}/handle`, values.get('handle')) !== devid) {
        throw new XenstoreValueError(`${path}/handle`, `is not the node's devid ${devid}`, values.get('handle'));
      }
      return { kind: 'nic', key: String(devid), path };
    }),
    nodeKeys: ['backend', 'handle'],
    add: nicAddRecipe,
  }),
  devidKind('vtpm', 'vtpm', 'vtpms', { add: vtpmAddRecipe }),
  devidKind('usbctrl', 'vusb', 'usbctrls', {
    nodeKeys: ['backend', 'type'],
    nodeTrees: ['port'],
    listLive: (view) => {
      const { controllers, problems } = usbControllers(view);
      const devices = controllers.map((c): LiveDevice => ({ kind: 'usbctrl', key: String(c.devid), path: c.path }));
      return { devices, problems };
    },
  }),
  {
    name: 'usbdev',
    xenstoreKinds: ['vusb'],
    nodeKeys: ['backend', 'type'],
    nodeTrees: ['port'],
    array: 'usbdevs',
    identity: 'ctrl:port',
    keyOf: usbdevKey,
    followUp: (view) => {
      const needsBackend = usbControllers(view).controllers.some((c) => c.type !== 'devicemodel' && c.backendDomid === 0);
      return needsBackend ? { trees: [usbBackendTree(view.domid)] } : {};
    },
    listLive: listUsbdevs,
  },
  {
    name: 'pci',
    xenstoreKinds: [],
    nodeKeys: [],
    array: 'pcidevs',
    identity: 'BDF',
    keyOf: pciKey,
    probe: (domid) => [`${pciBackend(domid)}/num_devs`],
    probeDomains: PCI_BACKENDS,
    followUp: (view) => {
      const counted = pciCount(view);
      if (!counted || !('count' in counted)) return {};
      return { values: Array.from({ length: counted.count }, (_, i) => `${pciBackend(view.domid)}/dev-${i}`) };
    },
    listLive: listPci,
  },
  devidKind('vdispl', 'vdispl', 'vdispls'),
  devidKind('vsnd', 'vsnd', 'vsnds'),
];

export function deviceType(name: string): DeviceType {
  const type = DEVICE_TYPES.find((candidate) => candidate.name === name);
  if (!type) throw new RangeError(`unknown device kind ${JSON.stringify(name)}`);
  return type;
}
