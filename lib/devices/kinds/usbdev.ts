// The USB device (libxl_device_usbdev, array `usbdevs`, identity ctrl:port).
// A usbdev is a busid written at port <p> of controller <ctrl>: under
// /libxl/<domid>/device/vusb/<ctrl>/port for devicemodel controllers, under
// dom0's backend dir for pv/qusb ones (libxl only attaches usb devices to
// dom0-backed controllers). libxl has no from_xenstore for usbdev and so
// drops every usbdev on retrieve; here they are read.
import { schema } from '../../config/index.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
import { childNamed, type DeviceProblem, type LiveDevice, type LiveList, type LiveView } from '../live.js';
import { parseSmallUint, requireValue } from '../parse.js';
import { integerKey, reasonOf } from './common.js';
import { usbControllers, usbNodeKeys, type UsbController } from './usbctrl.js';

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
};
