// Per-kind xenstore contents for hotplug, as libxl 4.17 writes them:
// device_disk_add (libxl_disk.c), libxl__set_xenstore_nic (libxl_nic.c),
// libxl__set_xenstore_vtpm (libxl_vtpm.c), on top of the generic keys of
// libxl__device_add_async. Entries must already carry their defaults
// (backend, devid, mac, script, mtu…): these functions only render them.
import { diskDevNumber } from '../config/index.js';
import type { AddContext, AddRecipe, KeyValues } from './writes.js';

type Entry = Record<string, unknown>;

const DEFAULT_SCRIPT_DIR = '/etc/xen/scripts';
const XENBUS_INITIALISING = '1';
const NIC_MTU_DEFAULT = 1500;

export class DeviceEntryError extends Error {
  override name = 'DeviceEntryError';
  readonly code = 'EINVAL';
  constructor(readonly field: string, message: string) {
    super(`${field}: ${message}`);
  }
}

function text(entry: Entry, field: string): string | undefined {
  const value = entry[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new DeviceEntryError(field, 'expected a string');
  return value;
}

function requiredText(entry: Entry, field: string): string {
  const value = text(entry, field);
  if (value === undefined) throw new DeviceEntryError(field, 'missing (defaults must be applied first)');
  return value;
}

function integer(entry: Entry, field: string, fallback?: number): number {
  const value = entry[field] ?? fallback;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new DeviceEntryError(field, 'expected an integer');
  return value;
}

/** A libxl defbool in any of its JSON-side spellings; `fallback` is the setdefault value. */
function defbool(entry: Entry, field: string, fallback: boolean): boolean {
  const value = entry[field];
  if (value === undefined || value === null || value === 'default') return fallback;
  if (value === true || value === 'True') return true;
  if (value === false || value === 'False') return false;
  throw new DeviceEntryError(field, 'expected a defbool');
}

function flag(entry: Entry, field: string): boolean {
  const value = entry[field];
  return value === true || (typeof value === 'number' && value !== 0);
}

/** libxl__abs_path: relative names live in the script dir. */
function scriptPath(name: string, context: AddContext): string {
  return name.startsWith('/') ? name : `${context.scriptDir ?? DEFAULT_SCRIPT_DIR}/${name}`;
}

// ---------------------------------------------------------------------------
// disk

const DISK_BACKEND_KIND: Record<string, string> = { phy: 'vbd', qdisk: 'qdisk', standalone: 'virtio_disk' };
/** libxl__device_disk_string_of_format */
const QDISK_FORMAT: Record<string, string> = { qcow: 'qcow', qcow2: 'qcow2', vhd: 'vhd', raw: 'aio', empty: 'aio', qed: 'qed' };

function diskBackend(entry: Entry): string {
  const backend = requiredText(entry, 'backend');
  if (backend === 'tap') throw new DeviceEntryError('backend', 'blktap is not supported');
  if (!(backend in DISK_BACKEND_KIND)) throw new DeviceEntryError('backend', `unsupported disk backend ${JSON.stringify(backend)}`);
  return backend;
}

export const diskAddRecipe: AddRecipe = {
  frontendKind: (entry) => (diskBackend(entry) === 'standalone' ? 'virtio_disk' : 'vbd'),
  backendKind: (entry) => DISK_BACKEND_KIND[diskBackend(entry)]!,
  devid: (entry) => {
    const devid = diskDevNumber(requiredText(entry, 'vdev'));
    if (devid === null) throw new DeviceEntryError('vdev', 'invalid or unsupported virtual disk identifier');
    return devid;
  },
  backendDomid: (entry) => integer(entry, 'backend_domid', 0),
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
      if (defbool(entry, 'colo_enable', false)) {
        values.push(
          ['colo-host', requiredText(entry, 'colo_host')],
          ['colo-port', String(integer(entry, 'colo_port'))],
          ['colo-export', requiredText(entry, 'colo_export')],
          ['active-disk', requiredText(entry, 'active_disk')],
          ['hidden-disk', requiredText(entry, 'hidden_disk')],
        );
      }
    }
    const readwrite = flag(entry, 'readwrite');
    const isCdrom = flag(entry, 'is_cdrom');
    values.push(
      ['frontend-id', String(context.domid)],
      ['online', '1'],
      ['removable', flag(entry, 'removable') ? '1' : '0'],
      ['bootable', '1'],
      ['state', XENBUS_INITIALISING],
      ['dev', requiredText(entry, 'vdev')],
      ['type', backend],
      ['mode', readwrite ? 'w' : 'r'],
      ['device-type', isCdrom ? 'cdrom' : 'disk'],
    );
    if (entry.direct_io_safe === true) values.push(['direct-io-safe', '1']);
    values.push(['discard-enable', defbool(entry, 'discard_enable', readwrite) ? '1' : '0']);
    const specification = text(entry, 'specification') ?? 'xen';
    values.push(['specification', specification === 'unknown' ? 'xen' : specification]);
    if (specification === 'virtio') {
      values.push(
        ['transport', text(entry, 'transport') ?? 'mmio'],
        ['base', String(integer(entry, 'base'))],
        ['irq', String(integer(entry, 'irq'))],
        ['grant_usage', defbool(entry, 'grant_usage', integer(entry, 'backend_domid', 0) !== 0) ? '1' : '0'],
      );
    }
    return values;
  },
  frontend: (entry, context) => {
    const devid = diskAddRecipe.devid(entry);
    const values: KeyValues = [
      ['backend-id', String(integer(entry, 'backend_domid', 0))],
      ['state', XENBUS_INITIALISING],
      ['virtual-device', String(devid)],
      ['device-type', flag(entry, 'is_cdrom') ? 'cdrom' : 'disk'],
      ['trusted', defbool(entry, 'trusted', true) ? '1' : '0'],
    ];
    return context.domainType === 'pv' && context.nativeProtocol !== undefined
      ? [...values, ['protocol', context.nativeProtocol]]
      : values;
  },
  readOnlyFrontend: () => [],
};

// ---------------------------------------------------------------------------
// generic keys (libxl__device_add_async), then the kind's own

function genericBackend(context: AddContext): KeyValues {
  return [['frontend-id', String(context.domid)], ['online', '1'], ['state', XENBUS_INITIALISING]];
}

function genericFrontend(entry: Entry): KeyValues {
  return [['backend-id', String(integer(entry, 'backend_domid', 0))], ['state', XENBUS_INITIALISING]];
}

function devidOf(entry: Entry): number {
  const devid = integer(entry, 'devid');
  if (devid < 0) throw new DeviceEntryError('devid', 'not assigned (defaults must be applied first)');
  return devid;
}

// nic: the colo keys libxl copies when set, in its order.
const NIC_COLO_KEYS = [
  'sock_mirror_id', 'sock_mirror_ip', 'sock_mirror_port',
  'sock_compare_pri_in_id', 'sock_compare_pri_in_ip', 'sock_compare_pri_in_port',
  'sock_compare_sec_in_id', 'sock_compare_sec_in_ip', 'sock_compare_sec_in_port',
  'sock_compare_notify_id', 'sock_compare_notify_ip', 'sock_compare_notify_port',
  'sock_redirector0_id', 'sock_redirector0_ip', 'sock_redirector0_port',
  'sock_redirector1_id', 'sock_redirector1_ip', 'sock_redirector1_port',
  'sock_redirector2_id', 'sock_redirector2_ip', 'sock_redirector2_port',
  'filter_mirror_queue', 'filter_mirror_outdev',
  'filter_redirector0_queue', 'filter_redirector0_indev', 'filter_redirector0_outdev',
  'filter_redirector1_queue', 'filter_redirector1_indev', 'filter_redirector1_outdev',
  'compare_pri_in', 'compare_sec_in', 'compare_out', 'compare_notify_dev',
  'sock_sec_redirector0_id', 'sock_sec_redirector0_ip', 'sock_sec_redirector0_port',
  'sock_sec_redirector1_id', 'sock_sec_redirector1_ip', 'sock_sec_redirector1_port',
  'filter_sec_redirector0_queue', 'filter_sec_redirector0_indev', 'filter_sec_redirector0_outdev',
  'filter_sec_redirector1_queue', 'filter_sec_redirector1_indev', 'filter_sec_redirector1_outdev',
  'filter_sec_rewriter0_queue', 'checkpoint_host', 'checkpoint_port',
] as const;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

function nicMac(entry: Entry): string {
  const mac = requiredText(entry, 'mac').toLowerCase();
  if (!MAC.test(mac)) throw new DeviceEntryError('mac', 'expected xx:xx:xx:xx:xx:xx');
  return mac;
}

function nicMtu(entry: Entry): number {
  const mtu = integer(entry, 'mtu', 0);
  return mtu === 0 ? NIC_MTU_DEFAULT : mtu;
}

export const nicAddRecipe: AddRecipe = {
  frontendKind: () => 'vif',
  backendKind: () => 'vif',
  devid: devidOf,
  backendDomid: (entry) => integer(entry, 'backend_domid', 0),
  backend: (entry, context) => {
    const values: Array<readonly [string, string]> = [...genericBackend(context)];
    const script = text(entry, 'script');
    if (script !== undefined) values.push(['script', scriptPath(script, context)]);
    const optional = (key: string, field: string) => {
      const value = text(entry, field);
      if (value) values.push([key, value]);
    };
    optional('vifname', 'ifname');
    optional('forwarddev', 'coloft_forwarddev');
    for (const key of NIC_COLO_KEYS) optional(`colo_${key}`, `colo_${key}`);
    values.push(['mac', nicMac(entry)]);
    optional('ip', 'ip');
    optional('gatewaydev', 'gatewaydev');
    const intervalUsecs = integer(entry, 'rate_interval_usecs', 0);
    if (intervalUsecs > 0) {
      values.push(['rate', `${BigInt(integer(entry, 'rate_bytes_per_interval', 0))},${intervalUsecs}`]);
    }
    const mtu = nicMtu(entry);
    if (mtu !== NIC_MTU_DEFAULT) values.push(['mtu', String(mtu)]);
    optional('vlan', 'vlan');
    values.push(
      ['bridge', requiredText(entry, 'bridge')],
      ['handle', String(devidOf(entry))],
      ['type', requiredText(entry, 'nictype')],
      // Makes the backend wait for the hotplug script before connecting.
      ['hotplug-status', ''],
    );
    return values;
  },
  frontend: (entry) => [
    ...genericFrontend(entry),
    ['handle', String(devidOf(entry))],
    ['mac', nicMac(entry)],
    ['trusted', defbool(entry, 'trusted', true) ? '1' : '0'],
  ],
  readOnlyFrontend: (entry) => [['mtu', String(nicMtu(entry))]],
};

export const vtpmAddRecipe: AddRecipe = {
  frontendKind: () => 'vtpm',
  backendKind: () => 'vtpm',
  devid: devidOf,
  backendDomid: (entry) => integer(entry, 'backend_domid', 0),
  backend: (entry, context) => [
    ...genericBackend(context),
    ['handle', String(devidOf(entry))],
    ['uuid', requiredText(entry, 'uuid').toLowerCase()],
    ['resume', 'False'],
  ],
  frontend: (entry) => [...genericFrontend(entry), ['handle', String(devidOf(entry))]],
  readOnlyFrontend: () => [],
};
