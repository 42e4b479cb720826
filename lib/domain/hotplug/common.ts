// What add, remove and attach share: the public shapes, HotplugError, the
// checks of a caller's arguments, and the template entry edits.
import {
  ConfigError,
  cloneDomainConfig,
  completeStruct,
  formatStruct,
  parseStruct,
  type DomainConfig,
} from '../../config/index.js';
import {
  DEVICE_TYPES,
  type DeviceEntry,
  type DeviceType,
} from '../../devices/index.js';
import { nameErrorClass, XenDomconfigError } from '../../errors.js';
import type { TemplateStore } from '../../userdata/index.js';
import { DOMAIN_TYPES, MAX_DOMID, type DomainType } from '../../xen.js';
import type { XenStore } from '../../xenstore/index.js';

/** libxl's LIBXL_INIT_TIMEOUT and LIBXL_DESTROY_TIMEOUT. */
export const BACKEND_INIT_TIMEOUT_MS = 10_000;
export const BACKEND_CLOSE_TIMEOUT_MS = 10_000;


export type HotplugErrorCode =
  | 'EINVAL'      // bad arguments or device fields
  | 'EBADDOMID'   // not a guest's domid (1..32751)
  | 'EEXIST'      // the device already exists in xenstore (libxl's ERROR_DEVICE_EXISTS)
  | 'ENODEV'      // no such device in /libxl/<domid>/device
  | 'ENODOMAIN'   // the domain has no /libxl/<domid>/type
  | 'ETIMEDOUT'   // the backend did not reach the state in time
  | 'EHOTPLUG'    // the backend or its hotplug script reported failure
  | 'EBUSY'       // the usb device or controller port is taken
  | 'EIO'         // a sysfs write of the host-side binding failed
  | 'EQMP'        // QEMU refused the device or could not be asked
  | 'ABORT_ERR';  // the signal was aborted after the device was committed

export interface HotplugErrorDetails {
  domid?: number;
  kind?: string;
  devid?: number;
  path?: string;
  /** Add: the device is in xenstore and in the template (both views agree). */
  committed?: boolean;
  /** What was added, when the failure came after commit. */
  device?: AddedDevice;
  cause?: unknown;
}

export class HotplugError extends XenDomconfigError {
  declare readonly code: HotplugErrorCode;
  constructor(code: HotplugErrorCode, message: string, readonly details: HotplugErrorDetails = {}) {
    super(code, message, details);
  }
}
nameErrorClass(HotplugError, 'HotplugError');

export interface HotplugContext {
  xenstore: XenStore;
  templates: TemplateStore;
  /** libxl__xen_script_dir_path(); default /etc/xen/scripts. */
  scriptDir?: string;
  /**
   * Run the hotplug scripts of dom0's vbd and vif backends, as libxl does with
   * xl.conf's run_hotplug_scripts (default true). False where udev or another
   * agent runs them.
   */
  runHotplugScripts?: boolean;
  /** Written into PV disk frontends, as libxl does from xc_domain_get_native_protocol (default x86_64-abi). */
  nativeProtocol?: string;
  /** Where sysfs is mounted (default /sys): libxl looks there for usbback. */
  sysfsRoot?: string;
  /** QMP socket of a domain's QEMU (default /var/run/xen/qmp-libxl-<domid>). */
  qmpSocketPath?: (domid: number) => string;
  /** How long QEMU may take to answer (default 10 s, libxl's LIBXL_QMP_CMD_TIMEOUT). */
  qmpTimeoutMs?: number;
}

export interface AddDeviceOptions {
  /** Wait for the backend's InitWait at most this long (default 10 s, libxl's). */
  timeoutMs?: number;
  /** Wait for the hotplug script at most this long (default 40 s, libxl's). */
  scriptTimeoutMs?: number;
  /** Wait for the domain-userdata lock at most this long (default: the template store's). */
  lockTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface AddedDevice<Entry = DeviceEntry> {
  domid: number;
  /** Device-table name: 'disk', 'nic', 'vtpm'. */
  kind: string;
  devid: number;
  /** The template entry as stored (caller's fields plus generated devid, mac, uuid…). */
  entry: Entry;
  libxlPath: string;
  frontendPath: string;
  backendPath: string;
  /** Backend state once waited for (2 InitWait … 4 Connected); undefined for QEMU backends. */
  backendState: number | undefined;
  /** The backend's hotplug-status ("connected" once the hotplug script ran). */
  hotplugStatus: string | undefined;
}

export interface RemoveDeviceOptions {
  /**
   * false (default): libxl's remove — wait for Closed, then force after the timeout.
   * true: libxl's destroy — force at once. 'never': libxl's safe remove — fail on timeout.
   */
  force?: boolean | 'never';
  /** Wait for Closed at most this long, per attempt (default 10 s, libxl's). */
  timeoutMs?: number;
  /** Also drop the template entry with this identity, under the lock. */
  pruneTemplate?: boolean;
  lockTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface RemovedDevice {
  domid: number;
  kind: string;
  devid: number;
  /** Template identity of the device (vdev for disks, devid otherwise). */
  identity: string;
  backendPath: string;
  /** The frontend was cleaned up and the nodes removed without the backend closing. */
  forced: boolean;
  /** Template entries removed by pruneTemplate. */
  prunedEntries: number;
}

/** Kinds with libxl's write recipe and defaults. */
export function hotplugKinds(): string[] {
  return DEVICE_TYPES.filter((type) => type.add || type.attach).map((type) => type.name);
}

/** The descriptor of a kind named by a caller, among `types`: EINVAL for a name no descriptor has. */
export function deviceTypeNamed(kind: unknown, types: readonly DeviceType[] = DEVICE_TYPES): DeviceType {
  const type = types.find((candidate) => candidate.name === kind);
  if (!type) {
    throw new HotplugError('EINVAL', `unknown device kind ${JSON.stringify(kind)}: expected one of ${types.map((t) => t.name).join(', ')}`);
  }
  return type;
}

/** A guest's domid: dom0 has no hotplug. */
export function checkDomid(domid: unknown): asserts domid is number {
  if (typeof domid !== 'number' || !Number.isInteger(domid) || domid < 1 || domid > MAX_DOMID) {
    throw new HotplugError('EBADDOMID', `invalid guest domid ${String(domid)}: expected an integer from 1 to ${MAX_DOMID}`);
  }
}

/** A caller's timeout in milliseconds, or `fallback`. */
export function checkTimeout(value: unknown, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) {
    throw new HotplugError('EINVAL', `invalid timeout ${String(value)}: expected milliseconds >= 0`);
  }
  return value;
}

/** The domain-userdata lock's options from a hotplug's. */
export function lockOptions(options: { lockTimeoutMs?: number; signal?: AbortSignal }) {
  return {
    ...(options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs }),
    ...signalOption(options.signal),
  };
}

export function signalOption(signal: AbortSignal | undefined): { signal?: AbortSignal } {
  return signal ? { signal } : {};
}

/** The caller's fields over libxl's *_init values, checked by a round trip through libxl-json. */
export function validatedEntry(type: DeviceType, device: unknown): DeviceEntry {
  const kind = type.name;
  if (typeof device !== 'object' || device === null || Array.isArray(device)) {
    throw new HotplugError('EINVAL', `${kind}: the device must be an object of libxl_device_${kind} fields`, { kind });
  }
  const entry = completeStruct(type.schema, device as DeviceEntry) as never;
  try {
    return parseStruct(type.schema, formatStruct(type.schema, entry)) as DeviceEntry;
  } catch (error) {
    throw invalid(error, undefined, kind);
  }
}

/** A refused device or configuration (DeviceDefaultsError, DeviceEntryError, ConfigError…) as the HotplugError EINVAL of `kind`. */
export function invalid(error: unknown, domid: number | undefined, kind: string): unknown {
  if (error instanceof ConfigError || (error as { code?: string })?.code === 'EINVAL') {
    return new HotplugError('EINVAL', `${kind}: ${(error as Error).message}`, { ...(domid === undefined ? {} : { domid }), kind, cause: error });
  }
  return error;
}

/** The domain's type as libxl recorded it: a domain libxl did not build is ENODOMAIN. */
export async function readDomainType(xenstore: XenStore, domid: number): Promise<DomainType> {
  const value = await xenstore.read(`/libxl/${domid}/type`);
  if (DOMAIN_TYPES.includes(value as DomainType)) return value as DomainType;
  if (value === undefined) throw new HotplugError('ENODOMAIN', `domain ${domid} has no /libxl/${domid}/type: it does not exist or libxl did not build it`, { domid });
  throw new HotplugError('ENODOMAIN', `domain ${domid}: /libxl/${domid}/type is ${JSON.stringify(value.slice(0, 32))}, not pv, pvh or hvm`, { domid });
}

/** libxl's device_add_domain_config: the last entry with the same identity is replaced, else the entry is appended. */
export function withEntry(template: DomainConfig, type: DeviceType, entry: DeviceEntry): DomainConfig {
  const config = cloneDomainConfig(template);
  const array = (config as unknown as Record<string, DeviceEntry[]>)[type.array]!;
  const key = type.keyOf(entry);
  let index = -1;
  array.forEach((existing, i) => { if (key !== undefined && type.keyOf(existing) === key) index = i; });
  if (index >= 0) array[index] = cloneDomainConfig(entry);
  else array.push(cloneDomainConfig(entry));
  return config;
}

export function withoutEntries(template: DomainConfig, type: DeviceType, key: string): { config: DomainConfig; removed: number } {
  const config = cloneDomainConfig(template);
  const record = config as unknown as Record<string, DeviceEntry[]>;
  const before = record[type.array]!;
  record[type.array] = before.filter((entry) => type.keyOf(entry) !== key);
  return { config, removed: before.length - record[type.array]!.length };
}
