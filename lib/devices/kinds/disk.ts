// The disk (libxl_device_disk, array `disks`, identity vdev): libxl_disk.c's
// setdefault, device_disk_add and libxl__disk_from_xenstore/_merge, the vbd
// hotplug script, and xl's block-attach/-detach with libxlutil's disk grammar.
import { stat } from 'node:fs/promises';
import { diskDevNumber, schema } from '../../config/index.js';
import type { DeviceType, DeviceEntry } from '../kind.js';
import type { LiveDevice, LiveList, LiveView } from '../live.js';
import { MAX_LONG_VALUE, optionalValue, parseSmallUint, requireValue, XenstoreValueError } from '../parse.js';
import { reportedInt, row } from '../listing.js';
import type { KeyValues } from '../writes.js';
import {
  defaultDefbool, defbool as entryDefbool, DeviceDefaultsError, DeviceEntryError, DEVID_NAME, flag as entryFlag, integer, isUnset,
  listLibxlNodes, requiredText, scriptPath, text, XENBUS_INITIALISING, backendDomidOf, type NodeReader,
} from './common.js';
import { parseDiskSpec } from './disk-spec.js';

export { parseDiskSpec };

const { device_disk } = schema;

// ---------------------------------------------------------------------------
// Retrieve: /libxl/<domid>/device/vbd (or virtio_disk) nodes, and the merge

const DISK_KINDS = ['vbd', 'virtio_disk'] as const;

/** What the template says a disk node holds: libxl wrote `dev` and `removable` from the entry it stored. */
interface ImpliedDisk {
  vdev: string;
  removable: boolean;
}

/**
 * The disk nodes the template accounts for, by devid: libxl names each node
 * after its vdev's device number and writes `dev` and `removable` from the
 * same entry it stores in the template (setdefault changes neither). A devid
 * no entry names (null when two entries name it with different vdevs or
 * flags) implies nothing, and its node's own keys are read.
 */
function impliedDisks(entries: readonly DeviceEntry[]): Map<number, ImpliedDisk | null> {
  const implied = new Map<number, ImpliedDisk | null>();
  for (const entry of entries) {
    const vdev = diskKey(entry);
    const devid = vdev === undefined ? null : diskDevNumber(vdev);
    if (vdev === undefined || devid === null) continue;
    const removable = entryFlag(entry, 'removable');
    const known = implied.get(devid);
    if (known === undefined) implied.set(devid, { vdev, removable });
    else if (known !== null && (known.vdev !== vdev || known.removable !== removable)) implied.set(devid, null);
  }
  return implied;
}

/** Everything the merge needs of a node the template does not account for. */
const UNIMPLIED_KEYS = ['dev', 'removable', 'params'] as const;
/** Only removable media can be ejected: params is read for those alone. */
const REMOVABLE_KEYS = ['params'] as const;

function diskNodeKeys(entries: readonly DeviceEntry[]): (devid: string) => readonly string[] {
  const implied = impliedDisks(entries);
  return (devid) => {
    if (!DEVID_NAME.test(devid)) return []; // a problem by its name alone
    const known = implied.get(Number(devid));
    if (!known) return UNIMPLIED_KEYS;
    return known.removable ? REMOVABLE_KEYS : [];
  };
}

/** libxl: everything after the first ':' of params ("<format>:<path>" for qdisk) is the media; none is ejected. */
function ejected(path: string, values: Map<string, string>): boolean {
  const params = optionalValue(`${path}/params`, values.get('params'), MAX_LONG_VALUE);
  const colon = params?.indexOf(':') ?? -1;
  const media = params !== undefined && colon >= 0 ? params.slice(colon + 1) : params;
  return !media;
}

function readDisk({ path, devid, values }: Parameters<NodeReader>[0], implied: ReadonlyMap<number, ImpliedDisk | null>): LiveDevice {
  const known = implied.get(devid);
  if (known) return { kind: 'disk', key: known.vdev, path, ejected: known.removable && ejected(path, values) };
  const vdev = requireValue(`${path}/dev`, values.get('dev'));
  if (vdev === '') throw new XenstoreValueError(`${path}/dev`, 'empty', vdev);
  const removable = parseSmallUint(`${path}/removable`, values.get('removable'), 1);
  return { kind: 'disk', key: vdev, path, ejected: removable === 1 && ejected(path, values) };
}

function listDisks(view: LiveView, entries: readonly DeviceEntry[] = []): LiveList {
  const implied = impliedDisks(entries);
  const list = listLibxlNodes(view, 'disk', DISK_KINDS, (node) => readDisk(node, implied));
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

function diskKey(entry: DeviceEntry): string | undefined {
  return typeof entry.vdev === 'string' && entry.vdev !== '' ? entry.vdev : undefined;
}

// ---------------------------------------------------------------------------
// Defaults (libxl__device_disk_setdefault)

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

// ---------------------------------------------------------------------------
// xenstore (device_disk_add)

const DISK_BACKEND_KIND: Record<string, string> = { phy: 'vbd', qdisk: 'qdisk', standalone: 'virtio_disk' };
/** libxl__device_disk_string_of_format */
const QDISK_FORMAT: Record<string, string> = { qcow: 'qcow', qcow2: 'qcow2', vhd: 'vhd', raw: 'aio', empty: 'aio', qed: 'qed' };

function diskBackend(entry: DeviceEntry): string {
  const backend = requiredText(entry, 'backend');
  if (backend === 'tap') throw new DeviceEntryError('backend', 'blktap is not supported');
  if (!(backend in DISK_BACKEND_KIND)) throw new DeviceEntryError('backend', `unsupported disk backend ${JSON.stringify(backend)}`);
  return backend;
}

function diskDevid(entry: DeviceEntry): number {
  const devid = diskDevNumber(requiredText(entry, 'vdev'));
  if (devid === null) throw new DeviceEntryError('vdev', 'invalid or unsupported virtual disk identifier');
  return devid;
}

// ---------------------------------------------------------------------------

export const disk: DeviceType = {
  name: 'disk',
  schema: device_disk,
  array: 'disks',
  identity: 'vdev',
  keyOf: diskKey,
  xenstoreKinds: DISK_KINDS,
  nodeKeys: diskNodeKeys,
  listLive: listDisks,
  // Removable media with nothing inserted in xenstore is ejected; otherwise
  // the template wins, since cdrom insert writes the template first.
  merge: (live, entry) => (live.ejected ? { ...entry, pdev_path: '', format: 'empty' } : entry),

  // libxl_domain_create_new clears colo restore on every disk before saving.
  async patchCreated(entries) {
    for (const entry of entries) entry.colo_restore_enable = false;
  },

  add: {
    nextDevid: false,
    async setDefault(entry, context) {
      defaultDefbool(entry, 'discard_enable', Boolean(entry.readwrite));
      defaultDefbool(entry, 'colo_enable', false);
      defaultDefbool(entry, 'colo_restore_enable', false);
      defaultDefbool(entry, 'trusted', true);
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
    frontendKind: (entry) => (diskBackend(entry) === 'standalone' ? 'virtio_disk' : 'vbd'),
    backendKind: (entry) => DISK_BACKEND_KIND[diskBackend(entry)]!,
    devid: diskDevid,
    backendDomid: backendDomidOf,
    backend: (entry, context) => {
      const backend = diskBackend(entry);
      const pdevPath = text(entry, 'pdev_path');
      const values: Array<[string, string]> = [];
      if (backend === 'phy') {
        values.push(['params', pdevPath ?? ''], ['script', scriptPath(text(entry, 'script') ?? 'block', context)]);
      } else if (backend === 'standalone') {
        values.push(['params', pdevPath ?? '']);
      } else {
        const format = QDISK_FORMAT[requiredText(entry, 'format')];
        if (format === undefined) throw new DeviceEntryError('format', 'no qdisk format string');
        values.push(['params', `${format}:${pdevPath ?? ''}`]);
        if (entryDefbool(entry, 'colo_enable', false)) {
          values.push(
            ['colo-host', requiredText(entry, 'colo_host')],
            ['colo-port', String(integer(entry, 'colo_port'))],
            ['colo-export', requiredText(entry, 'colo_export')],
            ['active-disk', requiredText(entry, 'active_disk')],
            ['hidden-disk', requiredText(entry, 'hidden_disk')],
          );
        }
      }
      const readwrite = entryFlag(entry, 'readwrite');
      const isCdrom = entryFlag(entry, 'is_cdrom');
      values.push(
        ['frontend-id', String(context.domid)],
        ['online', '1'],
        ['removable', entryFlag(entry, 'removable') ? '1' : '0'],
        ['bootable', '1'],
        ['state', XENBUS_INITIALISING],
        ['dev', requiredText(entry, 'vdev')],
        ['type', backend],
        ['mode', readwrite ? 'w' : 'r'],
        ['device-type', isCdrom ? 'cdrom' : 'disk'],
      );
      if (entry.direct_io_safe === true) values.push(['direct-io-safe', '1']);
      values.push(['discard-enable', entryDefbool(entry, 'discard_enable', readwrite) ? '1' : '0']);
      const specification = text(entry, 'specification') ?? 'xen';
      values.push(['specification', specification === 'unknown' ? 'xen' : specification]);
      if (specification === 'virtio') {
        values.push(
          ['transport', text(entry, 'transport') ?? 'mmio'],
          ['base', String(integer(entry, 'base'))],
          ['irq', String(integer(entry, 'irq'))],
          ['grant_usage', entryDefbool(entry, 'grant_usage', backendDomidOf(entry) !== 0) ? '1' : '0'],
        );
      }
      return values;
    },
    frontend: (entry, context) => {
      const values: KeyValues = [
        ['backend-id', String(backendDomidOf(entry))],
        ['state', XENBUS_INITIALISING],
        ['virtual-device', String(diskDevid(entry))],
        ['device-type', entryFlag(entry, 'is_cdrom') ? 'cdrom' : 'disk'],
        ['trusted', entryDefbool(entry, 'trusted', true) ? '1' : '0'],
      ];
      return context.domainType === 'pv' && context.nativeProtocol !== undefined
        ? [...values, ['protocol', context.nativeProtocol]]
        : values;
    },
    readOnlyFrontend: () => [],
    qemuBackend: (backendKind) => backendKind === 'qdisk',
    // block <action> for vbd backends (libxl__get_hotplug_script_info); none for qdisk.
    script: (backendKind, action) => (backendKind === 'vbd' ? { args: [action], env: {} } : undefined),
  },

  cli: {
    noun: 'block',
    specName: 'disk',
    attachUsage: '<diskspec...>',
    attachDescription: 'hotplug a disk; DISKSPEC as in xl-disk-configuration(5), e.g. phy:/dev/vg/data,xvdb,w',
    parseSpec: parseDiskSpec,
    attached: (entry) => `disk ${String(entry.vdev)}`,
    detachUsage: '<vdev>',
    detachDescription: 'unplug a disk by its virtual device name (xvdb, hdc, …); fails if the backend does not close',
    forceOption: true,
    detachTarget: (vdev) => ({ identity: vdev }),
    // xl: libxl_device_disk_safe_remove, or libxl_device_disk_destroy with -f.
    detachForce: 'never',
  },

  // xl_block.c main_blocklist over libxl_device_disk_getinfo: the handle column is the frontend domid.
  list: {
    noun: 'block',
    description: 'list virtual block devices, as xl block-list prints them',
    header: row(['Vdev', -5], ['BE', -3], ['handle', -6], ['state', -5], ['evt-ch', -6], ['ring-ref', -8], ['BE-path', -30]),
    format: (devices, domid) => devices.map((d) => row(
      [d.devid, -5], [d.backendDomid, -3], [domid, -6], [reportedInt(d, 'state'), -5],
      [reportedInt(d, 'event-channel'), -6], [reportedInt(d, 'ring-ref'), -8], [d.backendPath, -30],
    )).join(''),
  },
};
