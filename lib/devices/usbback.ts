// The host side of a PV usb device, as libxl_usb.c does it through sysfs
// (below a root that is /sys on a host): finding the device by bus and
// address, its interfaces, and moving each interface between its own driver
// and usbback, with the original driver's path kept under /libxl/usbback for
// the rebind at removal.
import { constants } from 'node:fs';
import { lstat, open, readdir, readFile, realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { nameErrorClass, XenDomconfigError } from '../errors.js';
import { xlAtoi } from './listing.js';

/** SYSFS_USB_DEV and SYSFS_USBBACK_DRIVER below the sysfs root. */
export const USB_DEVICES = 'bus/usb/devices';
export const USBBACK_DRIVER = 'bus/usb/drivers/usbback';
/** USBBACK_INFO_PATH: where libxl keeps each interface's original driver. */
export const USBBACK_INFO = '/libxl/usbback';
/** USBHUB_CLASS_CODE: hubs cannot be assigned. */
const HUB_CLASS = 9;
/** Entries of bus/usb/devices looked at, at most (a host has a few dozen). */
const MAX_SYSFS_ENTRIES = 4096;

export class UsbbackError extends XenDomconfigError {
  declare readonly code: 'ENODEV' | 'EINVAL' | 'EBUSY' | 'EIO';
  constructor(code: UsbbackError['code'], message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
nameErrorClass(UsbbackError, 'UsbbackError');

function isMissing(error: unknown): boolean {
  return (error as { code?: string }).code === 'ENOENT';
}

/** libxl's atoi of a sysfs attribute; undefined when the file is missing. */
async function readNumber(path: string): Promise<number | undefined> {
  try {
    return xlAtoi(await readFile(path, 'utf8'));
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

async function usbEntries(sysfsRoot: string): Promise<string[]> {
  try {
    return (await readdir(join(sysfsRoot, USB_DEVICES))).slice(0, MAX_SYSFS_ENTRIES);
  } catch (error) {
    if (isMissing(error)) return []; // no usb bus at all
    throw new UsbbackError('ENODEV', `cannot list ${join(sysfsRoot, USB_DEVICES)}: ${(error as Error).message}`, { cause: error });
  }
}

/** usbdev_busaddr_to_busid: the busid (1-1, 2-1.4) of the device at bus/address, or undefined. */
export async function busidOf(sysfsRoot: string, bus: number, address: number): Promise<string | undefined> {
  if (bus < 1 || address < 1) return undefined;
  for (const name of await usbEntries(sysfsRoot)) {
    const dir = join(sysfsRoot, USB_DEVICES, name);
    if (await readNumber(join(dir, 'devnum')) === address && await readNumber(join(dir, 'busnum')) === bus) return name;
  }
  return undefined;
}

/** A usb bus id as usbback names its devices (1-1, 2-1.4). */
const BUSID = /^[0-9]{1,3}-[0-9]{1,3}(\.[0-9]{1,3}){0,6}$/;

/** usbdev_busaddr_from_busid: the device's bus and address (uint8, from atoi), or undefined when sysfs has no such device. */
export async function busAddressOf(sysfsRoot: string, busid: string): Promise<{ hostbus: number; hostaddr: number } | undefined> {
  if (!BUSID.test(busid)) return undefined;
  const dir = join(sysfsRoot, USB_DEVICES, busid);
  const [bus, address] = await Promise.all([readNumber(join(dir, 'busnum')), readNumber(join(dir, 'devnum'))]);
  return bus === undefined || address === undefined ? undefined : { hostbus: bus & 0xff, hostaddr: address & 0xff };
}

/** is_usbdev_assignable and the busid: the device must exist and not be a hub. */
export async function assignableBusid(sysfsRoot: string, bus: number, address: number): Promise<string> {
  const busid = await busidOf(sysfsRoot, bus, address);
  if (busid === undefined) throw new UsbbackError('ENODEV', `no usb device at bus ${bus} address ${address} in ${join(sysfsRoot, USB_DEVICES)}`);
  const classCode = await readNumber(join(sysfsRoot, USB_DEVICES, busid, 'bDeviceClass'));
  if (classCode === undefined || classCode === HUB_CLASS) {
    throw new UsbbackError('EINVAL', `usb device ${busid} (bus ${bus} address ${address}) is not assignable${classCode === HUB_CLASS ? ': it is a hub' : ''}`);
  }
  return busid;
}

/** usbdev_get_all_interfaces: the entries named "<busid>:…". */
export async function interfacesOf(sysfsRoot: string, busid: string): Promise<string[]> {
  return (await usbEntries(sysfsRoot)).filter((name) => name.startsWith(`${busid}:`));
}

/** usb_interface_xenstore_encode: '.' and ':' cannot be in a xenstore key. */
export function xenstoreKeyOf(name: string): string {
  return name.replaceAll('.', '_').replaceAll(':', '@');
}

/** The node keeping an interface's original driver (libxl's driver_path). */
export function driverPathNode(busid: string, intf: string): string {
  return `${USBBACK_INFO}/${xenstoreKeyOf(busid)}/${xenstoreKeyOf(intf)}/driver_path`;
}

/** usbintf_is_assigned: bound to usbback. */
async function boundToUsbback(sysfsRoot: string, intf: string): Promise<boolean> {
  return exists(join(sysfsRoot, USBBACK_DRIVER, intf));
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw new UsbbackError('EIO', `cannot look at ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** usbintf_get_drvpath: the canonical path of the interface's driver, or undefined without one. */
async function driverOf(sysfsRoot: string, intf: string): Promise<string | undefined> {
  const link = join(sysfsRoot, USB_DEVICES, intf, 'driver');
  try {
    return await realpath(link);
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw new UsbbackError('EIO', `cannot resolve ${link}: ${(error as Error).message}`, { cause: error });
  }
}

/** Writes the interface's name into a driver's bind or unbind file, as libxl does (O_WRONLY, one write). */
async function writeAttribute(path: string, intf: string): Promise<void> {
  try {
    const handle = await open(path, constants.O_WRONLY);
    try {
      await handle.write(intf);
    } finally {
      await handle.close();
    }
  } catch (error) {
    throw new UsbbackError('EIO', `cannot write ${intf} to ${path}: ${(error as Error).message}`, { cause: error });
  }
}

/** bind_usbintf: nothing when already bound there. */
async function bind(intf: string, driverPath: string): Promise<void> {
  if (await exists(join(driverPath, intf))) return;
  await writeAttribute(join(driverPath, 'bind'), intf);
}

/** The interfaces to move and the driver each had (the driver_path nodes to write). */
export interface UsbbackAssignment {
  busid: string;
  /** Interfaces not yet bound to usbback, with their original driver's path (undefined: none). */
  interfaces: Array<{ name: string; driverPath: string | undefined }>;
}

/** What usbback_dev_assign will do, read before anything changes. */
export async function planAssignment(sysfsRoot: string, busid: string): Promise<UsbbackAssignment> {
  const interfaces: UsbbackAssignment['interfaces'] = [];
  for (const name of await interfacesOf(sysfsRoot, busid)) {
    if (await boundToUsbback(sysfsRoot, name)) continue;
    interfaces.push({ name, driverPath: await driverOf(sysfsRoot, name) });
  }
  return { busid, interfaces };
}

/**
 * usbback_dev_assign: each interface unbound from its driver and bound to
 * usbback. On a failure every interface goes back where it was (libxl's
 * usbback_dev_unassign and usbdev_rebind) before the error is thrown.
 */
export async function assignToUsbback(sysfsRoot: string, assignment: UsbbackAssignment): Promise<void> {
  try {
    for (const { name, driverPath } of assignment.interfaces) {
      if (driverPath !== undefined) await writeAttribute(join(sysfsRoot, USB_DEVICES, name, 'driver', 'unbind'), name);
      await bind(name, join(sysfsRoot, USBBACK_DRIVER));
    }
  } catch (error) {
    await unassignFromUsbback(sysfsRoot, assignment.busid).catch(() => undefined);
    await rebind(assignment.interfaces).catch(() => undefined);
    throw error;
  }
}

/** usbback_dev_unassign: every interface of the device that usbback holds is unbound from it. */
export async function unassignFromUsbback(sysfsRoot: string, busid: string): Promise<void> {
  for (const name of await interfacesOf(sysfsRoot, busid)) {
    if (await boundToUsbback(sysfsRoot, name)) await writeAttribute(join(sysfsRoot, USBBACK_DRIVER, 'unbind'), name);
  }
}

/** usbdev_rebind: each interface back to the driver libxl noted for it. */
export async function rebind(interfaces: ReadonlyArray<{ name: string; driverPath: string | undefined }>): Promise<void> {
  for (const { name, driverPath } of interfaces) {
    if (driverPath !== undefined) await bind(name, driverPath);
  }
}
