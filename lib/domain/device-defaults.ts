// libxl's set_default and update_config hooks for the kinds xen-domconfig
// hotplugs (libxl__device_disk_setdefault, libxl__device_nic_setdefault,
// libxl__device_vtpm_setdefault; libxl__update_config_nic/_vtpm): the values
// libxl fills in before writing xenstore, and which of them it copies back
// into the template entry.
import { randomBytes, randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { NIL_UUID, ZERO_MAC, formatMac } from '../config/index.js';
import type { DeviceEntry } from '../devices/index.js';

export type DomainType = 'pv' | 'pvh' | 'hvm';

export interface DefaultsContext {
  domid: number;
  domainType: DomainType;
  /** libxl's `hotplug` argument: true for a device added to a running domain. */
  hotplug: boolean;
  /** libxl__xen_script_dir_path(). */
  scriptDir: string;
}

export interface DeviceDefaults {
  /** Fills every field the xenstore writes need (the entry is modified). */
  setDefault(entry: DeviceEntry, context: DefaultsContext): Promise<void>;
  /** Copies the generated values into the entry kept in the template. */
  updateConfig(saved: DeviceEntry, full: DeviceEntry): void;
  /** A devid of -1 is replaced by the next free one under /libxl/<domid>/device/<kind>. */
  readonly nextDevid: boolean;
}

export class DeviceDefaultsError extends Error {
  override name = 'DeviceDefaultsError';
  readonly code = 'EINVAL';
}

/** libxl: Xen's OUI 00:16:3e, then three random bytes with the top bit of the first cleared. */
export function generateMac(random: Uint8Array = randomBytes(3)): string {
  return formatMac([0x00, 0x16, 0x3e, random[0]! & 0x7f, random[1]!, random[2]!]);
}

function isUnset(value: unknown): boolean {
  return value === undefined || value === null;
}

function defbool(entry: DeviceEntry, field: string, value: boolean): void {
  if (isUnset(entry[field]) || entry[field] === 'default') entry[field] = value;
}

/** libxl__device_disk_set_backend for an unspecified backend: phy when it fits, else qdisk. */
async function chooseDiskBackend(entry: DeviceEntry): Promise<string> {
  if (entry.format === 'empty') {
    if (!entry.is_cdrom) throw new DeviceDefaultsError(`disk ${String(entry.vdev)} is empty but not a cdrom`);
    return 'phy';
  }
  if (entry.format !== 'raw') return 'qdisk';
  if (entry.backend_domid !== 0 || !isUnset(entry.script)) return 'phy';
  const path = typeof entry.pdev_path === 'string' ? entry.pdev_path : '';
  try {
    return (await stat(path)).isBlockDevice() ? 'phy' : 'qdisk';
  } catch (error) {
    throw new DeviceDefaultsError(`disk ${String(entry.vdev)}: cannot stat ${JSON.stringify(path)}: ${(error as Error).message}`);
  }
}

const disk: DeviceDefaults = {
  nextDevid: false,
  async setDefault(entry, context) {
    defbool(entry, 'discard_enable', Boolean(entry.readwrite));
    defbool(entry, 'colo_enable', false);
    defbool(entry, 'colo_restore_enable', false);
    defbool(entry, 'trusted', true);
    if (entry.specification === 'unknown' || isUnset(entry.specification)) entry.specification = 'xen';
    // xl's disk parser defaults the format to raw; libxl needs a known one.
    if (entry.format === 'unknown' || isUnset(entry.format)) entry.format = 'raw';
    // A cdrom of a guest with a device model is always served by QEMU.
    if (entry.is_cdrom && context.domainType === 'hvm') {
      if (entry.backend !== 'unknown' && entry.backend !== 'qdisk') {
        throw new DeviceDefaultsError(`disk ${String(entry.vdev)}: an HVM cdrom must use the qdisk backend`);
      }
      entry.backend = 'qdisk';
    }
    if (entry.backend === 'unknown' || isUnset(entry.backend)) entry.backend = await chooseDiskBackend(entry);
  },
  updateConfig() {},
};

const NIC_MTU_DEFAULT = 1500;

const nic: DeviceDefaults = {
  nextDevid: true,
  async setDefault(entry, context) {
    if (!entry.mtu) entry.mtu = NIC_MTU_DEFAULT;
    if (isUnset(entry.model)) entry.model = 'rtl8139';
    if (isUnset(entry.mac) || entry.mac === ZERO_MAC) entry.mac = generateMac();
    if (isUnset(entry.bridge)) entry.bridge = 'xenbr0';
    if (isUnset(entry.script)) entry.script = `${context.scriptDir}/vif-bridge`;
    if (context.domainType === 'hvm') {
      if (entry.nictype === 'unknown' || isUnset(entry.nictype)) entry.nictype = context.hotplug ? 'vif' : 'vif_ioemu';
    } else {
      if (entry.nictype === 'vif_ioemu') {
        throw new DeviceDefaultsError('an emulated interface (vif_ioemu) needs an HVM guest');
      }
      entry.nictype = 'vif';
    }
    defbool(entry, 'trusted', true);
  },
  updateConfig(saved, full) {
    saved.devid = full.devid;
    saved.nictype = full.nictype;
    saved.mac = full.mac;
  },
};

const vtpm: DeviceDefaults = {
  nextDevid: true,
  async setDefault(entry) {
    if (isUnset(entry.uuid) || entry.uuid === NIL_UUID) entry.uuid = randomUUID();
  },
  updateConfig(saved, full) {
    saved.devid = full.devid;
    saved.uuid = full.uuid;
  },
};

/** By device-table name; the kinds whose add recipe xen-domconfig drives. */
export const DEVICE_DEFAULTS: Readonly<Record<string, DeviceDefaults | undefined>> = { disk, nic, vtpm };
