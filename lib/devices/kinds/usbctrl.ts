// The USB controller (libxl_device_usbctrl, array `usbctrls`, identity devid):
// libxl__usbctrl_from_xenstore. Its /libxl/<domid>/device/vusb nodes also say
// where each controller's ports are, which the usbdev descriptor reads.
import { schema } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import type { LiveDevice, LiveView, DeviceProblem, XenStoreNode } from '../live.js';
import { parseEnum } from '../parse.js';
import { checkedBackend, devidIdentity, domidOfPath, listLibxlNodes, type NodeReader } from './common.js';

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

export const usbctrl: DeviceType = {
  name: 'usbctrl',
  schema: schema.device_usbctrl,
  array: 'usbctrls',
  ...devidIdentity('usbctrl', 'vusb'),
  nodeKeys: ['backend', 'type'],
  nodeTrees: ['port'],
  listLive: (view) => {
    const { controllers, problems } = usbControllers(view);
    const devices = controllers.map((c): LiveDevice => ({ kind: 'usbctrl', key: String(c.devid), path: c.path }));
    return { devices, problems };
  },
};
