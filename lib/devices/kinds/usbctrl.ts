// The USB controller (libxl_device_usbctrl, array `usbctrls`, identity devid):
// libxl__usbctrl_from_xenstore; its /libxl/<domid>/device/vusb nodes also say
// where each controller's ports are, which the usbdev descriptor reads. Hotplug
// of PV controllers (usbback in a backend domain) as libxl_usb.c's
// setdefault and libxl__device_usbctrl_add_xenstore, and xl's
// usbctrl-attach/-detach; qusb ones (QEMU's xen backend, when the running
// device model offers it) the same way, without waiting for the backend;
// devicemodel ones (QEMU's own controller) over QMP.
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { schema } from '../../config/index.js';
import type { AttachContext, AttachStep, DeviceEntry, DeviceType, DomainType } from '../kind.js';
import { busAddressOf, USBBACK_DRIVER } from '../usbback.js';
import { row, valueAt, xlAtoi, type ListedDevice, type ListingReader } from '../listing.js';
import { childNamed, type LiveDevice, type LiveView, type DeviceProblem, type XenStoreNode } from '../live.js';
import { parseEnum } from '../parse.js';
import { parseKeyValueSpec, unsignedDecimal } from '../spec.js';
import {
  backendDomidOf, checkedBackend, detachByDevid, DeviceDefaultsError, devidIdentity, devidOf, domidOfPath, genericBackend, genericFrontend,
  integer, listLibxlNodes, parseDevid, requiredText, type NodeReader,
} from './common.js';

const { device_usbctrl, usbctrl_type } = schema;
/** USBIF_MAX_PORTNR */
const MAX_PV_PORTS = 31;

async function usbbackLoaded(sysfsRoot: string): Promise<boolean> {
  try {
    await lstat(join(sysfsRoot, USBBACK_DRIVER));
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'ENOENT') return false;
    throw new DeviceDefaultsError(`usbctrl: cannot look for usbback at ${join(sysfsRoot, USBBACK_DRIVER)}: ${(error as Error).message}`);
  }
}

/** `xl usbctrl-attach` arguments, one KEY=VALUE each (parse_usbctrl_config). */
export function parseUsbctrlSpec(words: string | readonly string[]) {
  return parseKeyValueSpec('usbctrl', device_usbctrl, words, {
    keys: {
      type: {
        field: 'type',
        parse: (value, fail) => {
          const type = value.toLowerCase();
          return (usbctrl_type.values as readonly string[]).includes(type) ? type : fail(`invalid usb controller type '${value}'`);
        },
      },
      version: { field: 'version', parse: unsignedDecimal(0x7fff_ffff) },
      ports: { field: 'ports', parse: unsignedDecimal(0x7fff_ffff) },
    },
    commas: false,
  });
}

const USB_TYPES = ['pv', 'qusb', 'devicemodel'] as const;

export interface UsbController {
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

/**
 * Where a controller's ports are, whatever the template says (its type may be
 * `auto`, its backend a domain name): the type, and the backend of a pv one.
 */
const USB_NODE_KEYS = ['backend', 'type'] as const;
export const usbNodeKeys = () => () => USB_NODE_KEYS;

/** The controllers /libxl/<domid>/device/vusb lists, and the nodes it could not read. */
export function usbControllers(view: Omit<LiveView, 'trees'>): { controllers: UsbController[]; problems: DeviceProblem[] } {
  const controllers: UsbController[] = [];
  const list = listLibxlNodes({ ...view, trees: new Map() }, 'usbctrl', ['vusb'], (node) => {
    const controller = readUsbController(node);
    controllers.push(controller);
    return { kind: 'usbctrl', key: String(controller.devid), path: node.path };
  });
  return { controllers, problems: list.problems };
}

// ---------------------------------------------------------------------------
// xl usb-list (xl_usb.c main_usblist over libxl_device_usbctrl_getinfo and
// libxl_ctrlport_to_device_usbdev)

interface ListedPort { port: number; busid: string; hostbus?: number; hostaddr?: number }

async function usbctrlDetails(device: ListedDevice, reader: ListingReader) {
  const [type] = await reader.readMany([`${device.libxlPath}/type`]);
  const backend = await reader.readTree(device.backendPath);
  const ports: ListedPort[] = [];
  for (const port of childNamed(backend, 'port')?.children ?? []) {
    if (!/^[1-9][0-9]{0,2}$/.test(port.name)) continue;
    const address = port.value === '' ? undefined : await busAddressOf(reader.sysfsRoot, port.value);
    ports.push({ port: Number(port.name), busid: port.value, ...address });
  }
  const version = valueAt(backend, 'usb-ver');
  const portCount = valueAt(backend, 'num-ports');
  return { details: { type, ...(version === undefined ? {} : { 'usb-ver': version }), ...(portCount === undefined ? {} : { 'num-ports': portCount }), ports } };
}

/** Port lines shown at most: USBIF_MAX_PORTNR, beyond which libxl never makes a port. */
const MAX_LISTED_PORTS = MAX_PV_PORTS;

function usbctrlLines(device: ListedDevice): string {
  const details = device.details as { type: string; 'usb-ver'?: string; 'num-ports'?: string; ports: ListedPort[] };
  const ports = xlAtoi(details['num-ports']);
  let text = row(['Devid', -6], ['Type', -12], ['BE', -3], ['state', -5], ['usb-ver', -7], ['ports', -5])
    + row([device.devid, -6], [details.type, -12], [device.backendDomid, -3], [xlAtoi(device.guestReported.values.state), -5], [xlAtoi(details['usb-ver']), -7], [ports, -5]);
  for (let j = 1; j <= Math.min(ports, MAX_LISTED_PORTS); j++) {
    const used = details.ports.find((port) => port.port === j && port.hostbus !== undefined);
    const hex = (n: number) => n.toString(16).padStart(3, '0');
    text += `  Port ${j}:${used ? ` Bus ${hex(used.hostbus!)} Device ${hex(used.hostaddr!)}` : ''}\n`;
  }
  return text;
}

/** libxl__device_usbctrl_setdefault (auto resolved as libxl does, versions and port counts per type). */
async function usbctrlDefaults(entry: DeviceEntry, context: { domainType: DomainType; sysfsRoot: string }): Promise<void> {
  if (entry.type === 'auto') {
    if (context.domainType === 'hvm') entry.type = 'devicemodel';
    else entry.type = (await usbbackLoaded(context.sysfsRoot)) ? 'pv' : 'qusb';
  }
  if (!entry.version) entry.version = 2;
  const version = integer(entry, 'version');
  if (entry.type !== 'devicemodel') {
    if (version !== 1 && version !== 2) throw new DeviceDefaultsError('usbctrl: USB version for paravirtualized devices must be 1 or 2');
    if (!entry.ports) entry.ports = 8;
    if (integer(entry, 'ports') < 1 || integer(entry, 'ports') > MAX_PV_PORTS) {
      throw new DeviceDefaultsError(`usbctrl: number of ports for USB controller is limited to ${MAX_PV_PORTS}`);
    }
    return;
  }
  // QEMU's uhci (1) and ehci (2) have fixed port counts; xhci (3) up to 15.
  const fixed = QEMU_CONTROLLERS[version]?.ports;
  if (!QEMU_CONTROLLERS[version]) throw new DeviceDefaultsError('usbctrl: Illegal USB version');
  if (fixed !== undefined) {
    if (entry.ports && entry.ports !== fixed) throw new DeviceDefaultsError(`usbctrl: Number of ports for USB controller of version ${version} is always ${fixed}`);
    entry.ports = fixed;
  } else {
    if (!entry.ports) entry.ports = 8;
    if (integer(entry, 'ports') > 15) throw new DeviceDefaultsError('usbctrl: Number of ports for USB controller of version 3 is limited to 15');
  }
}

/** libxl__device_usbctrl_add_hvm: QEMU's controller per USB version. */
const QEMU_CONTROLLERS: Record<number, { driver: string; ports?: number }> = {
  1: { driver: 'piix3-usb-uhci', ports: 2 },
  2: { driver: 'usb-ehci', ports: 6 },
  3: { driver: 'nec-usb-xhci' },
};

/**
 * A devicemodel controller (libxl__device_usbctrl_add with backend kind
 * NONE): its keys only under /libxl/<domid>/device/vusb/<devid> (libxl-only,
 * no frontend or backend), then QMP device_add of QEMU's controller, with
 * id xenusb-<devid>; a refusal takes the node away again.
 */
async function attachDevicemodelController(entry: DeviceEntry, context: AttachContext): Promise<AttachStep | undefined> {
  await usbctrlDefaults(entry, context);
  if (entry.type !== 'devicemodel') return undefined;
  if (integer(entry, 'devid') === -1) {
    const devids = ((await context.xenstore.list(`/libxl/${context.domid}/device/vusb`)) ?? []).filter((name) => /^(0|[1-9][0-9]{0,9})$/.test(name)).map(Number);
    entry.devid = devids.length === 0 ? 0 : Math.max(...devids) + 1;
  }
  const devid = integer(entry, 'devid');
  const ports = integer(entry, 'ports');
  const version = integer(entry, 'version');
  const libxlPath = `/libxl/${context.domid}/device/vusb/${devid}`;
  const path = `${libxlPath}/type`;
  return {
    key: String(devid), path, devid, libxlPath, frontendPath: `/local/domain/${context.domid}/device/vusb/${devid}`,
    writes: [
      [path, 'devicemodel'], [`${libxlPath}/usb-ver`, String(version)], [`${libxlPath}/num-ports`, String(ports)], [`${libxlPath}/port`, ''],
      ...Array.from({ length: ports }, (_, i) => [`${libxlPath}/port/${i + 1}`, ''] as const),
    ],
    removes: [],
    // libxl__device_exists in the transaction: ERROR_DEVICE_EXISTS.
    recheck: async (read) => ((await read(libxlPath)) === undefined ? undefined : `usbctrl ${devid} of domain ${context.domid} already exists (${libxlPath})`),
    after: async () => {
      await context.qmp('device_add', {
        driver: QEMU_CONTROLLERS[version]!.driver,
        ...(version === 3 ? { p2: String(ports), p3: String(ports) } : {}),
        id: `xenusb-${devid}`,
      });
    },
  };
}

/** libxl__device_usbctrl_del_hvm, then libxl__device_usbctrl_del_xenstore (the /libxl node). */
async function detachDevicemodelController(identity: string, context: AttachContext): Promise<AttachStep | undefined> {
  const devid = parseDevid(identity);
  if (devid === undefined) return undefined;
  const libxlPath = `/libxl/${context.domid}/device/vusb/${devid}`;
  if (await context.xenstore.read(`${libxlPath}/type`) !== 'devicemodel') return undefined;
  const used = ((await context.xenstore.readTree(`${libxlPath}/port`))?.children ?? []).filter((port) => port.value !== '').map((port) => port.name);
  if (used.length > 0) throw new DeviceDefaultsError(`usbctrl ${devid} of domain ${context.domid}: usb devices are attached at ports ${used.join(', ')}; remove them first`);
  return {
    key: String(devid), path: `${libxlPath}/type`, devid, libxlPath, frontendPath: `/local/domain/${context.domid}/device/vusb/${devid}`,
    writes: [],
    removes: [libxlPath],
    before: async () => { await context.qmp('device_del', { id: `xenusb-${devid}` }); },
  };
}

export const usbctrl: DeviceType = {
  name: 'usbctrl',
  schema: device_usbctrl,
  array: 'usbctrls',
  ...devidIdentity('usbctrl', 'vusb'),
  nodeKeys: usbNodeKeys,
  reportedFrontendKeys: ['event-channel', 'urb-ring-ref', 'conn-ring-ref'],
  listLive: (view) => {
    const { controllers, problems } = usbControllers(view);
    const devices = controllers.map((c): LiveDevice => ({ kind: 'usbctrl', key: String(c.devid), path: c.path }));
    return { devices, problems };
  },

  // libxl removes the controller's usb devices first; their unplug (usbback unbind) is not done here.
  async removalBlocked(xenstore, backendPath) {
    const ports = (await xenstore.readTree(`${backendPath}/port`))?.children ?? [];
    const used = ports.filter((port) => port.value !== '').map((port) => port.name);
    return used.length === 0 ? undefined : `usb devices are attached at ports ${used.join(', ')}; remove them first`;
  },

  attach: { attach: attachDevicemodelController, detach: detachDevicemodelController },

  add: {
    nextDevid: true,
    async setDefault(entry, context) {
      await usbctrlDefaults(entry, context);
      // libxl__device_usbctrl_add_xenstore: "if (!libxl__query_qemu_backend(gc, domid, usbctrl->backend_domid, \"qusb\", false))"
      if (entry.type === 'qusb' && await context.read(`/local/domain/${backendDomidOf(entry)}/device-model/${context.domid}/backends/qusb`) === undefined) {
        throw new DeviceDefaultsError(`usbctrl: backend type qusb not supported by the device model of domain ${context.domid} (xen-domconfig starts no device model)`);
      }
    },
    // libxl stores the controller as defaulted.
    updateConfig(saved, full) {
      Object.assign(saved, { type: full.type, devid: full.devid, version: full.version, ports: full.ports });
    },
    frontendKind: () => 'vusb',
    // libxl__device_from_usbctrl: LIBXL__DEVICE_KIND_QUSB for qusb.
    backendKind: (entry) => (entry.type === 'qusb' ? 'qusb' : 'vusb'),
    devid: devidOf,
    backendDomid: backendDomidOf,
    backend: (entry, context) => {
      const ports = integer(entry, 'ports');
      return [
        ...genericBackend(context),
        ['type', requiredText(entry, 'type')],
        ['usb-ver', String(integer(entry, 'version'))],
        ['num-ports', String(ports)],
        ['port', ''],
        ...Array.from({ length: ports }, (_, i) => [`port/${i + 1}`, ''] as const),
      ];
    },
    frontend: (entry) => genericFrontend(entry),
    readOnlyFrontend: () => [],
    qemuBackend: (backendKind) => backendKind === 'qusb',
  },

  cli: {
    noun: 'usbctrl',
    specName: 'usbctrl',
    attachUsage: '[key=value...]',
    attachDescription: 'hotplug a PV USB controller (usbback); keys as xl usbctrl-attach takes them: type=pv, version=1|2, ports=N',
    parseSpec: parseUsbctrlSpec,
    attached: (entry, devid) => `usbctrl ${devid} (${String(entry.ports)} ports)`,
    detachUsage: '<devid>',
    detachDescription: 'unplug a USB controller by devid',
    forceOption: false,
    detachTarget: detachByDevid,
    // xl: libxl_device_usbctrl_remove (waits for the backend, then forces).
    detachForce: false,
  },

  list: {
    noun: 'usb',
    description: 'list USB controllers and the devices at their ports, as xl usb-list prints them',
    oneDomain: true,
    details: usbctrlDetails,
    format: (devices) => devices.map(usbctrlLines).join(''),
  },
};
