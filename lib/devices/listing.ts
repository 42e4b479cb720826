// What listDevices reports of one device (libxl's *_list and *_getinfo), the
// hook a kind uses to add what its xl <noun>-list prints, and the C number
// conversions xl applies to the values it shows. Frontend values are written
// by the guest: they are kept as written, under guestReported, and only shown.
import { MAX_DEVICES_PER_KIND, type DeviceProblem, type XenStoreNode } from './live.js';

/** Values the guest wrote into its own frontend dir: what it claims, never trusted. */
export interface GuestReported {
  /** XenbusState of the frontend (undefined when absent or not a number). */
  readonly state: number | undefined;
  /** The frontend's state and the kind's keys (event channel, ring references…), as written. */
  readonly values: Readonly<Record<string, string | undefined>>;
  /** What else of the frontend dir the kind's xl list shows (vdispl's connectors, vsnd's card), as written. */
  readonly details?: Readonly<Record<string, unknown>>;
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
  /** What the kind's xl list prints from the /libxl node and the backend dir (a nic's mac, a vtpm's uuid…). */
  details?: Readonly<Record<string, unknown>>;
  guestReported: GuestReported;
}

/** The reads a kind's listing hook may make. */
export interface ListingReader {
  readMany(paths: string[]): Promise<(string | undefined)[]>;
  readTree(path: string): Promise<XenStoreNode | undefined>;
  /** Where sysfs is mounted (usb devices' bus and address). */
  readonly sysfsRoot: string;
}

/** What a kind adds to a listed device: values from toolstack and backend dirs, and what the guest wrote. */
export interface ListedDetails {
  details?: Record<string, unknown>;
  reported?: Record<string, unknown>;
}

/** xl's <noun>-list of a kind: what listDevices adds to each device and the lines xl prints. */
export interface DeviceListCli {
  /** xl's noun: `block` for block-list. */
  readonly noun: string;
  readonly description: string;
  /** xl reads a single domain (usb-list, pci-list). */
  readonly oneDomain?: boolean;
  /** Printed once before any domain: xl's column titles. */
  readonly header?: string;
  /** Adds what xl prints beyond the generic fields (a XenstoreValueError leaves the device out as a problem, as libxl's list or getinfo failing leaves it out). */
  details?(device: ListedDevice, reader: ListingReader): Promise<ListedDetails>;
  /** The devices when they are not found from /libxl nodes of their own (pci: dom0's backend dir). */
  devices?(domid: number, reader: ListingReader): Promise<{ devices: ListedDevice[]; problems: DeviceProblem[] }>;
  /** xl's lines for one domain's devices. */
  format(devices: readonly ListedDevice[], domid: number): string;
}

// ---------------------------------------------------------------------------
// C conversions, as xl shows values

const C_SPACE = /^[ \t\n\v\f\r]*/;
const ULONG_MAX = (1n << 64n) - 1n;
const LONG_MAX = (1n << 63n) - 1n;

/** strtoul(text, NULL, base) for base 10, 16 or 0 (prefix decides), as glibc reads it on a 64-bit host. */
export function strtoul(text: string, base: 0 | 10 | 16 = 10): bigint {
  const rest = text.replace(C_SPACE, '');
  const sign = rest[0] === '-' || rest[0] === '+' ? rest[0] : '';
  let body = rest.slice(sign.length);
  let radix: number = base === 0 ? 10 : base;
  if ((base === 0 || base === 16) && /^0[xX][0-9a-fA-F]/.test(body)) {
    radix = 16;
    body = body.slice(2);
  } else if (base === 0 && body.startsWith('0')) {
    radix = 8;
  }
  const digits = (radix === 16 ? /^[0-9a-fA-F]*/ : radix === 8 ? /^[0-7]*/ : /^[0-9]*/).exec(body)![0];
  if (digits === '') return 0n;
  const value = BigInt(radix === 16 ? `0x${digits}` : radix === 8 ? `0o${digits}` : digits);
  if (value > ULONG_MAX) return ULONG_MAX;
  return sign === '-' ? (ULONG_MAX + 1n - value) % (ULONG_MAX + 1n) : value;
}

/** libxl's `val ? strtoul(val, NULL, 10) : -1` stored in an int, as xl's %d prints it. */
export function xlInt(text: string | undefined): number {
  return text === undefined ? -1 : Number(BigInt.asIntN(32, strtoul(text)));
}

/** `tmp ? atoi(tmp) : -1`, as libxl's usb getinfo reads its keys. */
export function xlAtoi(text: string | undefined): number {
  if (text === undefined) return -1;
  const match = /^([+-]?)([0-9]*)/.exec(text.replace(C_SPACE, ''))!;
  if (match[2] === '') return 0;
  let value = BigInt(match[2]!);
  if (match[1] === '-') value = -value;
  // strtol clamps to the long range; the int then keeps the low 32 bits.
  const clamped = value > LONG_MAX ? LONG_MAX : value < -LONG_MAX - 1n ? -LONG_MAX - 1n : value;
  return Number(BigInt.asIntN(32, clamped));
}

/** An unsigned int as %u prints it, from strtoul(text, NULL, 0). */
export function xlUnsigned(text: string): number {
  return Number(BigInt.asUintN(32, strtoul(text, 0)));
}

/** printf's %s of a NULL string in glibc. */
export function cString(text: string | undefined | null): string {
  return text ?? '(null)';
}

/** printf's field of `width`: left-justified when negative (%-5d), right-justified otherwise (%6d). */
export function field(value: string | number, width: number): string {
  return width < 0 ? String(value).padEnd(-width) : String(value).padStart(width);
}

/** One line of fields, each [value, width] as field() takes them, joined by single spaces. */
export function row(...fields: [string | number, number][]): string {
  return `${fields.map(([value, width]) => field(value, width)).join(' ')}\n`;
}

/** The value `relative` ('0/unique-id') names below node, undefined when absent. */
export function valueAt(node: XenStoreNode | undefined, relative: string): string | undefined {
  let current = node;
  for (const name of relative.split('/')) current = current?.children.find((child) => child.name === name);
  return current?.value;
}

/** The children named 0, 1, 2… up to the first missing one, as libxl counts connectors, pcms and streams. */
export function numberedChildren(node: XenStoreNode | undefined): XenStoreNode[] {
  const found: XenStoreNode[] = [];
  for (let i = 0; i < MAX_DEVICES_PER_KIND; i++) {
    const child = node?.children.find((candidate) => candidate.name === String(i));
    if (!child) break;
    found.push(child);
  }
  return found;
}

/** The named keys of node, as written (absent ones left out). */
export function valuesOf(node: XenStoreNode | undefined, keys: readonly string[]): Record<string, string> {
  return Object.fromEntries(keys.flatMap((key) => {
    const value = valueAt(node, key);
    return value === undefined ? [] : [[key, value]];
  }));
}

/** A XenbusState as written, or undefined when absent or not one digit. */
export function xenbusState(value: string | undefined): number | undefined {
  return value !== undefined && /^[0-9]$/.test(value) ? Number(value) : undefined;
}

/** A frontend key's value as xl's %d shows it. */
export function reportedInt(device: ListedDevice, key: string): number {
  return xlInt(device.guestReported.values[key]);
}
