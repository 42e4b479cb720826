// The USB device (libxl_device_usbdev, array `usbdevs`, identity ctrl:port).
// A usbdev is a busid written at port <p> of controller <ctrl>: under
// /libxl/<domid>/device/vusb/<ctrl>/port for devicemodel controllers, under
// dom0's backend dir for pv/qusb ones (libxl only attaches usb devices to
// dom0-backed controllers). libxl has no from_xenstore for usbdev and so
// drops every usbdev on retrieve; here they are read.
import { schema } from '../../config/index.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
import { childNamed, type DeviceProblem, type LiveDevice, type LiveList, type LiveView, type XenStoreNode } from '../live.js';
import { parseSmallUint, requireValue } from '../parse.js';
import { integerKey, reasonOf } from './common.js';
import { usbControllers, usbNodeKeys } from './usbctrl.js';

const MAX_USB_PORTS = 31;

function usbBackendTree(domid: number): string {
  return `/local/domain/0/backend/vusb/${domid}`;
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

export const usbdev: DeviceType = {
  name: 'usbdev',
  schema: schema.device_usbdev,
  array: 'usbdevs',
  identity: 'ctrl:port',
  keyOf: usbdevKey,
  xenstoreKinds: ['vusb'],
  nodeKeys: usbNodeKeys,
  nodeTrees: ['port'],
  followUp: (view) => {
    const needsBackend = usbControllers(view).controllers.some((c) => c.type !== 'devicemodel' && c.backendDomid === 0);
    return needsBackend ? { trees: [usbBackendTree(view.domid)] } : {};
  },
  listLive: listUsbdevs,
};
