// The USB device (libxl_device_usbdev, array `usbdevs`, identity ctrl:port).
// A usbdev is a busid written at port <p> of controller <ctrl>: under
// /libxl/<domid>/device/vusb/<ctrl>/port for devicemodel controllers, under
// dom0's backend dir for pv/qusb ones (libxl only attaches usb devices to
// dom0-backed controllers). libxl has no from_xenstore for usbdev and so
// drops every usbdev on retrieve; here they are read.
import { completeStruct, schema } from '../../config/index.js';
import type { AttachContext, AttachStep, DeviceEntry, DeviceType } from '../kind.js';
import { childNamed, leafValues, type DeviceProblem, type LiveDevice, type LiveList, type LiveView } from '../live.js';
import { parseSmallUint, requireValue } from '../parse.js';
import { SpecError, type DeviceJson } from '../spec.js';
import {
  assignableBusid, assignToUsbback, UsbbackError, busAddressOf, driverPathNode, interfacesOf, planAssignment, rebind, unassignFromUsbback, USBBACK_INFO, xenstoreKeyOf,
} from '../usbback.js';
import type { KeyValues } from '../writes.js';
import { integer, integerKey, reasonOf } from './common.js';
import { usbctrl, usbControllers, usbNodeKeys, type UsbController } from './usbctrl.js';
import { MAX_DEVID } from '../../xen.js';

const MAX_USB_PORTS = 31;

/**
 * Where controller `controller`'s ports are: under its own /libxl node for a
 * devicemodel controller, under dom0's backend dir for a pv or qusb one
 * backed by dom0; undefined for others (libxl attaches no usb device there).
 */
function portsPath(view: Pick<LiveView, 'domid'>, controller: UsbController): string | undefined {
  if (controller.type === 'devicemodel') return `${controller.path}/port`;
  if (controller.backendDomid === 0) return `/local/domain/0/backend/vusb/${view.domid}/${controller.devid}/port`;
  return undefined;
}

function listUsbdevs(view: LiveView): LiveList {
  const devices: LiveDevice[] = [];
  const problems: DeviceProblem[] = [];
  for (const controller of usbControllers(view).controllers) {
    const base = portsPath(view, controller);
    if (base === undefined) continue;
    // A whole /libxl tree (hotplug, listDevices) holds a devicemodel controller's ports; a list reads them as a follow-up.
    const ports = controller.type === 'devicemodel' ? childNamed(controller.node, 'port') ?? view.trees.get(base) : view.trees.get(base);
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

export const usbdev: DeviceType = {
  name: 'usbdev',
  schema: schema.device_usbdev,
  array: 'usbdevs',
  identity: 'ctrl:port',
  keyOf: usbdevKey,
  xenstoreKinds: ['vusb'],
  nodeKeys: usbNodeKeys,
  // Each controller's ports, once its type and backend are known.
  followUp: (view) => ({ trees: usbControllers(view).controllers.flatMap((controller) => portsPath(view, controller) ?? []) }),
  listLive: listUsbdevs,
  attach: { attach: attachUsbdev, detach: detachUsbdev },
  cli: {
    noun: 'usbdev',
    specName: 'usbdev',
    attachUsage: '<key=value...>',
    attachDescription: 'hotplug a host usb device; keys as xl usbdev-attach takes them: type=hostdev, hostbus=N, hostaddr=N, controller=DEVID, port=N',
    parseSpec: parseUsbdevSpec,
    attached: (entry) => `usbdev at controller ${String(entry.ctrl)} port ${String(entry.port)}`,
    detachUsage: '<controller> <port>',
    detachDescription: 'unplug the usb device at a controller\'s port',
    forceOption: false,
    detachTarget: (text) => {
      const match = /^([0-9]{1,10}) ([0-9]{1,2})$/.exec(text);
      return match && Number(match[1]) <= MAX_DEVID ? { identity: `${match[1]}:${match[2]}` } : { invalid: `'${text}' is not <controller> <port>` };
    },
    detachForce: false,
  },
};

/** `xl usbdev-attach` arguments, one KEY=VALUE each (parse_usbdev_config), as libxl-json. */
export function parseUsbdevSpec(words: string | readonly string[]): DeviceJson {
  const list = typeof words === 'string' ? [words] : words;
  const spec = list.join(' ');
  const values = new Map<string, number | string>();
  for (const word of list) {
    const [key, value] = [word.slice(0, Math.max(0, word.indexOf('='))), word.slice(word.indexOf('=') + 1)];
    const fail = (reason: string): never => { throw new SpecError('usbdev', spec, reason, word); };
    const number = (max: number) => (/^[0-9]{1,10}$/.test(value) && Number(value) <= max ? Number(value) : fail(`'${value}' is not a number from 0 to ${max}`));
    if (key === 'type') values.set('type', value.toLowerCase() === 'hostdev' ? 'hostdev' : fail(`invalid usb device type: ${value}`));
    else if (key === 'hostbus' || key === 'hostaddr') values.set(key, number(255));
    else if (key === 'controller') values.set('ctrl', number(MAX_DEVID));
    else if (key === 'port') values.set('port', number(MAX_USB_PORTS));
    else fail(`unknown string '${word}' in usbdev spec`);
  }
  const json: DeviceJson = {};
  if (values.has('ctrl')) json.ctrl = values.get('ctrl')!;
  if (values.get('port')) json.port = values.get('port')!;
  if (values.has('hostbus') || values.has('hostaddr') || values.has('type')) {
    json['type.hostdev'] = {
      ...(values.get('hostbus') ? { hostbus: values.get('hostbus')! } : {}),
      ...(values.get('hostaddr') ? { hostaddr: values.get('hostaddr')! } : {}),
    };
  }
  return json;
}

// ---------------------------------------------------------------------------
// Hotplug (libxl_usb.c: libxl__device_usbdev_add and _remove, with
// libxl__device_usbdev_setdefault and the usbback binding of usbback.ts)

interface PortedController {
  devid: number;
  type: UsbController['type'];
  backendDomid: number | undefined;
  /** Where the controller's ports are (vusb_get_port_path): the /libxl node for devicemodel, else its backend dir. */
  portsPath: string;
  ports: number;
}

async function domainControllers(context: AttachContext, domid = context.domid): Promise<PortedController[]> {
  const libxlDevices = await context.xenstore.readTree(`/libxl/${domid}/device`);
  const { controllers } = usbControllers({ domid, libxlDevices, values: new Map() });
  return controllers.map((controller) => {
    const values = leafValues(controller.node);
    const base = controller.type === 'devicemodel' ? controller.path : values.get('backend')!;
    const ports = Number.parseInt(values.get('num-ports') ?? '', 10);
    return { devid: controller.devid, type: controller.type, backendDomid: controller.backendDomid, portsPath: `${base}/port`, ports: Number.isNaN(ports) ? 0 : Math.min(ports, MAX_USB_PORTS) };
  });
}

function attachError(code: UsbbackError['code'], message: string): Error {
  return new UsbbackError(code, message);
}

/** get_assigned_devices: is the busid at a port of any domain's controller? */
async function assignedTo(context: AttachContext, busid: string): Promise<string | undefined> {
  for (const name of (await context.xenstore.list('/libxl')) ?? []) {
    if (!/^(0|[1-9][0-9]{0,4})$/.test(name)) continue;
    for (const controller of await domainControllers(context, Number(name))) {
      const ports = (await context.xenstore.readTree(controller.portsPath))?.children ?? [];
      const used = ports.find((port) => port.value === busid);
      if (used) return `domain ${name} controller ${controller.devid} port ${used.name}`;
    }
  }
  return undefined;
}

/** The first free port of a controller (libxl's setdefault), or undefined. */
async function freePort(context: AttachContext, controller: PortedController): Promise<number | undefined> {
  for (let port = 1; port <= controller.ports; port++) {
    if (await context.xenstore.read(`${controller.portsPath}/${port}`) === '') return port;
  }
  return undefined;
}

/** libxl__device_usbdev_setdefault: the controller and port, chosen or checked. */
async function chooseControllerPort(entry: DeviceEntry, context: AttachContext): Promise<PortedController> {
  const ctrl = integer(entry, 'ctrl', -1);
  const port = integer(entry, 'port', 0);
  const controllers = await domainControllers(context);
  if (ctrl === -1) {
    if (port !== 0) throw attachError('EINVAL', 'usbdev: USB controller must be specified if you specify port');
    for (const controller of controllers) {
      const free = await freePort(context, controller);
      if (free !== undefined) {
        Object.assign(entry, { ctrl: controller.devid, port: free });
        return controller;
      }
    }
    // No controller with a free port: libxl adds one with its defaults and takes its port 1.
    const { devid } = await context.addDevice(usbctrl, completeStruct(usbctrl.schema, {}) as DeviceEntry);
    const added = (await domainControllers(context)).find((controller) => controller.devid === devid);
    if (!added) throw attachError('ENODEV', `usbdev: usb controller ${devid} went away as it was added`);
    Object.assign(entry, { ctrl: devid, port: 1 });
    return added;
  }
  const controller = controllers.find((candidate) => candidate.devid === ctrl);
  if (!controller) throw attachError('ENODEV', `usbdev: domain ${context.domid} has no usb controller ${ctrl}`);
  if (port === 0) {
    const free = await freePort(context, controller);
    if (free === undefined) throw attachError('EBUSY', `usbdev: no available port under usb controller ${ctrl}`);
    entry.port = free;
  } else if (port < 1 || port > controller.ports) {
    throw attachError('EINVAL', `usbdev: usb controller ${ctrl} has ports 1 to ${controller.ports}, not ${port}`);
  } else if (await context.xenstore.read(`${controller.portsPath}/${port}`) !== '') {
    throw attachError('EBUSY', `usbdev: port ${port} of usb controller ${ctrl} isn't available`);
  }
  return controller;
}

function dom0Backed(controller: PortedController, action: string): void {
  // Only dom0-backed controllers take usb devices (devicemodel ones are served by dom0's QEMU).
  if (controller.type !== 'devicemodel' && controller.backendDomid !== 0) {
    throw attachError('EINVAL', `usbdev: don't support ${action} USB device from non-Dom0 backend (controller ${controller.devid})`);
  }
}

/** libxl__device_usbdev_add_hvm / _del_hvm: QEMU's usb-host device on the controller's bus. */
function qemuDeviceId(bus: number, address: number): string {
  return `xenusb-${bus}-${address}`;
}

function portNodes(domid: number, ctrl: number, port: number) {
  return { key: `${ctrl}:${port}`, devid: port, libxlPath: `/libxl/${domid}/device/vusb/${ctrl}`, frontendPath: `/local/domain/${domid}/device/vusb/${ctrl}` };
}

async function attachUsbdev(entry: DeviceEntry, context: AttachContext): Promise<AttachStep> {
  // libxl_device_usbdev's u is keyed by type, and libxl 4.17 refuses any type but hostdev.
  if (entry.type !== 'hostdev') {
    throw attachError('EINVAL', `usbdev: type must be 'hostdev', with u: { hostbus, hostaddr } (libxl 4.17 knows no other usb device type), not ${JSON.stringify(entry.type ?? null)}`);
  }
  const hostdev = (entry.u ?? {}) as { hostbus?: number; hostaddr?: number };
  const bus = hostdev.hostbus ?? 0;
  const address = hostdev.hostaddr ?? 0;
  if (entry.ctrl !== -1) {
    const named = (await domainControllers(context)).find((controller) => controller.devid === entry.ctrl);
    if (!named) throw attachError('ENODEV', `usbdev: domain ${context.domid} has no usb controller ${String(entry.ctrl)}`);
    dom0Backed(named, 'adding');
  }
  const busid = await assignableBusid(context.sysfsRoot, bus, address);
  const holder = await assignedTo(context, busid);
  if (holder) throw attachError('EBUSY', `usbdev: USB device ${busid} already attached to a domain (${holder})`);
  entry.u = { hostbus: bus, hostaddr: address };
  const controller = await chooseControllerPort(entry, context);
  dom0Backed(controller, 'adding');
  const path = `${controller.portsPath}/${String(entry.port)}`;
  const step = {
    ...portNodes(context.domid, integer(entry, 'ctrl'), integer(entry, 'port')),
    path,
    removes: [],
    recheck: async (read: (path: string) => Promise<string | undefined>) =>
      (await read(path)) === '' ? undefined : `port ${String(entry.port)} of usb controller ${String(entry.ctrl)} was taken meanwhile`,
  };
  if (controller.type === 'pv') {
    const assignment = await planAssignment(context.sysfsRoot, busid);
    const notes = assignment.interfaces.filter((intf) => intf.driverPath !== undefined).map((intf) => [driverPathNode(busid, intf.name), intf.driverPath!] as const);
    return { ...step, writes: [[path, busid], ...notes], after: () => assignToUsbback(context.sysfsRoot, assignment) };
  }
  if (controller.type === 'devicemodel') {
    return {
      ...step,
      writes: [[path, busid]],
      after: async () => {
        await context.qmp('device_add', {
          id: qemuDeviceId(bus, address), driver: 'usb-host', bus: `xenusb-${controller.devid}.0`,
          port: String(entry.port), hostbus: String(bus), hostaddr: String(address),
        });
      },
    };
  }
  return { ...step, writes: [[path, busid]] }; // qusb: QEMU's backend watches the port
}

async function detachUsbdev(identity: string, context: AttachContext): Promise<AttachStep> {
  const match = /^([0-9]{1,10}):([0-9]{1,2})$/.exec(identity);
  if (!match) throw attachError('EINVAL', `usbdev: '${identity}' is not <controller>:<port>`);
  const [ctrl, port] = [Number(match[1]), Number(match[2])];
  const controller = (await domainControllers(context)).find((candidate) => candidate.devid === ctrl);
  if (!controller) throw attachError('ENODEV', `usbdev: domain ${context.domid} has no usb controller ${ctrl}`);
  dom0Backed(controller, 'removing');
  const path = `${controller.portsPath}/${port}`;
  const busid = port >= 1 && port <= controller.ports ? await context.xenstore.read(path) : undefined;
  if (!busid) throw attachError('ENODEV', `usbdev: no usb device at controller ${ctrl} port ${port} of domain ${context.domid}`);
  const step = { ...portNodes(context.domid, ctrl, port), path, writes: [[path, '']] as KeyValues, removes: [] };
  if (controller.type === 'pv') {
    // libxl unbinds from usbback first, so that a failure leaves the device listed for another try.
    const notes = await Promise.all((await interfacesOf(context.sysfsRoot, busid)).map(async (name) => ({
      name, driverPath: await context.xenstore.read(driverPathNode(busid, name)),
    })));
    return {
      ...step,
      before: () => unassignFromUsbback(context.sysfsRoot, busid),
      after: () => rebind(notes),
      cleanup: [`${USBBACK_INFO}/${xenstoreKeyOf(busid)}`],
    };
  }
  if (controller.type === 'devicemodel') {
    const device = await busAddressOf(context.sysfsRoot, busid);
    if (!device) throw attachError('ENODEV', `usbdev: cannot read the bus and address of usb device ${busid} in ${context.sysfsRoot}`);
    return { ...step, before: async () => { await context.qmp('device_del', { id: qemuDeviceId(device.hostbus, device.hostaddr) }); } };
  }
  return step;
}
