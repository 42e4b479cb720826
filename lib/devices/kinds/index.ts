// Every device kind xen-domconfig knows, in libxl's device_type_tbl order (the
// merge order), then the kinds libxl's table lacks. Adding a kind is its file in this folder and one line here.
import type { DeviceKind, DeviceOf } from '../../config/index.js';
import { argumentError } from '../../errors.js';
import type { DeviceType } from '../kind.js';
import { channel } from './channel.js';
import { disk } from './disk.js';
import { nic } from './nic.js';
import { p9 } from './p9.js';
import { pci } from './pci.js';
import { pvcallsif } from './pvcallsif.js';
import { usbctrl } from './usbctrl.js';
import { usbdev } from './usbdev.js';
import { vdispl } from './vdispl.js';
import { vfb } from './vfb.js';
import { vkb } from './vkb.js';
import { vsnd } from './vsnd.js';
import { vtpm } from './vtpm.js';

/**
 * The kinds known by name (the table's and the listed-only channel): every
 * device struct of libxl's domain config but rdm and dtdev, which need the
 * hypervisor and stay as the template has them.
 */
export type DeviceKindName = Exclude<DeviceKind, 'rdm' | 'dtdev'>;

/** A device of the kind as a caller gives it: any field may be left out, at any depth (the defaults fill it). */
export type DeviceInput<K extends DeviceKindName> = DeepPartial<DeviceOf<K>>;

/** T with every field optional, at any depth (array items too). */
export type DeepPartial<T> = T extends readonly (infer Item)[]
  ? DeepPartial<Item>[]
  : T extends object ? { [Field in keyof T]?: DeepPartial<T[Field]> } : T;

export const DEVICE_TYPES: readonly DeviceType[] = [
  disk,
  nic,
  vtpm,
  usbctrl,
  usbdev,
  pci,
  vdispl,
  vsnd,
  // Not in libxl's table: merged here only to drop entries a remove left (entriesOptional).
  vfb,
  vkb,
  p9,
  pvcallsif,
];

/**
 * Every kind listDevices and the <noun>-list commands know: the table, then
 * the kinds only listed (channels: libxl's table lacks them, so retrieve
 * leaves the template's as stored).
 */
export const LISTED_DEVICE_TYPES: readonly DeviceType[] = [...DEVICE_TYPES, channel];

/** The descriptor of a kind by its libxl name; undefined for a name no descriptor has. */
export function findDeviceType(name: unknown): DeviceType | undefined {
  return DEVICE_TYPES.find((candidate) => candidate.name === name);
}

export function deviceType(name: string): DeviceType {
  const type = findDeviceType(name);
  if (!type) throw argumentError('ERR_INVALID_ARG_VALUE', `unknown device kind ${JSON.stringify(name)}`);
  return type;
}
