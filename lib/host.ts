// XenHost: one host's xenstore and userdata folder, and what the package does
// with them — retrieve (`xl list -l <domid>`), list, diff, the create-time
// save, device hotplug and listings, the mirror. It sits above the layers it
// composes (domain, mirror), none of which imports it.
import { TemplateStore } from './userdata/index.js';
import { jsonable } from './util/json.js';
import { XenStore } from './xenstore/index.js';
import type { DeviceOf, DomainConfig } from './config/index.js';
import { LISTED_DEVICE_TYPES, type DeviceEntry, type DeviceInput, type DeviceKindName, type DeviceType } from './devices/index.js';
import { diffDomain, type DomainDrift } from './domain/diff.js';
import {
  addDevice,
  deviceTypeNamed,
  removeDevice,
  type AddDeviceOptions,
  type AddedDevice,
  type HotplugContext,
  type RemoveDeviceOptions,
  type RemovedDevice,
} from './domain/hotplug.js';
import {
  listDomains,
  streamDomains,
  type ListOptions,
  type LongListEntry,
  type ShortListEntry,
} from './domain/list.js';
import { listDevices, type DeviceListing } from './domain/list-devices.js';
import { ConfigMirror, type MirrorOptions } from './mirror/mirror.js';
import { defaultQmpSocketPath, QMP_TIMEOUT_MS } from './domain/qmp.js';
import { retrieveDomain, type RetrieveContext, type RetrieveOptions, type RetrievedDomain } from './domain/retrieve.js';
import type { StateReader } from './domain/state.js';
import { storeDomainConfiguration, type StoreOptions } from './domain/store.js';

export interface XenHostOptions {
  xenstore: XenStore;
  /** libxl's userdata dir (default /var/lib/xen). */
  userdataDir?: string;
  /** QMP socket of a domain's QEMU (default /var/run/xen/qmp-libxl-<domid>). */
  qmpSocketPath?: (domid: number) => string;
  /** How long QEMU may take to answer (default 10 s, libxl's LIBXL_QMP_CMD_TIMEOUT). */
  qmpTimeoutMs?: number;
  /** Hotplug script folder written into backends (default /etc/xen/scripts). */
  scriptDir?: string;
  /** Run dom0's vbd/vif hotplug scripts as libxl does (default true; false where udev runs them). */
  runHotplugScripts?: boolean;
  /** Where sysfs is mounted (default /sys): libxl looks there for usbback. */
  sysfsRoot?: string;
  /** Bulk reads for retrieve, list and the template store (default: the XenStore itself). */
  reader?: StateReader;
}

export interface XenHostOpenOptions extends Omit<XenHostOptions, 'xenstore' | 'reader'> {
  /** xenstored socket; default: libxenstore's rules (XENSTORED_PATH, …). */
  xenstorePath?: string;
  /** Bulk reads over a pipelined connection to the socket (default true; libxenstore only if false or unreachable). */
  pipelined?: boolean;
}

export class XenHost {
  readonly xenstore: XenStore;
  readonly templates: TemplateStore;
  readonly #context: RetrieveContext;
  readonly #hotplug: HotplugContext;
  /** Closes what open() opened. */
  #owned: (() => Promise<void>) | undefined;

  /** Connects to xenstored; close() disconnects. */
  static open(options: XenHostOpenOptions = {}): XenHost {
    const { xenstorePath, pipelined = true, ...rest } = options;
    const xenstore = XenStore.open({ pipelined, ...(xenstorePath === undefined ? {} : { path: xenstorePath }) });
    const host = new XenHost({ ...rest, xenstore });
    host.#owned = () => xenstore.close();
    return host;
  }

  /** Uses a connection the caller owns (close() leaves it open). */
  constructor(options: XenHostOptions) {
    this.xenstore = options.xenstore;
    this.templates = new TemplateStore({
      xenstore: options.xenstore,
      ...(options.reader === undefined ? {} : { reader: options.reader }),
      ...(options.userdataDir === undefined ? {} : { dir: options.userdataDir }),
    });
    this.#context = {
      xenstore: options.xenstore,
      reader: options.reader ?? options.xenstore,
      templates: this.templates,
      qmpSocketPath: options.qmpSocketPath ?? defaultQmpSocketPath,
      qmpTimeoutMs: options.qmpTimeoutMs ?? QMP_TIMEOUT_MS,
    };
    this.#hotplug = {
      xenstore: options.xenstore,
      templates: this.templates,
      ...(options.scriptDir === undefined ? {} : { scriptDir: options.scriptDir }),
      ...(options.runHotplugScripts === undefined ? {} : { runHotplugScripts: options.runHotplugScripts }),
      ...(options.sysfsRoot === undefined ? {} : { sysfsRoot: options.sysfsRoot }),
      qmpSocketPath: this.#context.qmpSocketPath,
      qmpTimeoutMs: this.#context.qmpTimeoutMs,
    };
  }

  /** The domain's configuration now: its template refreshed from xenstore (and QEMU), devices merged. */
  retrieveDomainConfiguration(domid: number, options: RetrieveOptions = {}): Promise<RetrievedDomain> {
    return retrieveDomain(this.#context, domid, options).then(jsonable);
  }

  /** Every domain, dom0 included: `{ domid, config, devices }` (long) or a summary, or `{ domid, error }`. */
  listDomains(options: ListOptions & { long: true }): Promise<LongListEntry[]>;
  listDomains(options?: ListOptions & { long?: false }): Promise<ShortListEntry[]>;
  listDomains(options?: ListOptions): Promise<LongListEntry[] | ShortListEntry[]>;
  listDomains(options: ListOptions = {}): Promise<LongListEntry[] | ShortListEntry[]> {
    return listDomains(this.#context, options).then((entries) => entries.map(jsonable) as typeof entries);
  }

  /**
   * listDomains' entries one at a time, in domid order, each as soon as it and those before it are
   * read: a caller that writes each out holds a few configurations at once, not every domain's.
   */
  streamDomains(options: ListOptions & { long: true }): AsyncGenerator<LongListEntry, void>;
  streamDomains(options?: ListOptions & { long?: false }): AsyncGenerator<ShortListEntry, void>;
  streamDomains(options?: ListOptions): AsyncGenerator<LongListEntry | ShortListEntry, void>;
  async *streamDomains(options: ListOptions = {}): AsyncGenerator<LongListEntry | ShortListEntry, void> {
    for await (const entry of streamDomains(this.#context, options)) yield jsonable(entry);
  }

  /** Every domain's configuration kept current by watches, with a stream of its changes; close it before the host. */
  mirror(options: MirrorOptions = {}): ConfigMirror {
    return ConfigMirror.create(this.#context, options);
  }

  /** Stored versus live: each refreshed field, and the devices on one side only. */
  diffDomainConfiguration(domid: number, options: RetrieveOptions = {}): Promise<DomainDrift> {
    return diffDomain(this.#context, domid, options).then(jsonable);
  }

  /** The create-time save: config stored as the template, with the values libxl generates at creation. */
  storeDomainConfiguration(domid: number, config: DomainConfig, options: StoreOptions = {}): Promise<DomainConfig> {
    return storeDomainConfiguration(this.#hotplug, domid, config, options).then(jsonable);
  }

  /**
   * Hotplugs a device as libxl_device_<kind>_add does: template and xenstore in one transaction.
   * The kind's name types the device (`addDevice(1, 'disk', { vdev: 'xvdb' })`); a kind's
   * descriptor takes any entry, checked at run time.
   */
  async addDevice<K extends DeviceKindName>(domid: number, kind: K, device: DeviceInput<K>, options?: AddDeviceOptions): Promise<AddedDevice<DeviceOf<K>>>;
  async addDevice(domid: number, kind: DeviceType, device: DeviceEntry, options?: AddDeviceOptions): Promise<AddedDevice>;
  async addDevice(domid: number, kind: DeviceKindName | DeviceType, device: DeviceEntry, options: AddDeviceOptions = {}): Promise<AddedDevice> {
    return addDevice(this.#hotplug, domid, typeof kind === 'string' ? deviceTypeNamed(kind) : kind, device, options).then(jsonable);
  }

  /** Unplugs a device by its identity (vdev, devid) as libxl_device_<kind>_remove does; the template is kept unless pruned. */
  async removeDevice(domid: number, kind: DeviceKindName | DeviceType, identity: string | number, options: RemoveDeviceOptions = {}): Promise<RemovedDevice> {
    return removeDevice(this.#hotplug, domid, typeof kind === 'string' ? deviceTypeNamed(kind) : kind, identity, options).then(jsonable);
  }

  /** The domain's devices (of one kind, if named) as libxl's *_list / *_getinfo report them. */
  async listDevices(domid: number, kind?: DeviceKindName | DeviceType): Promise<DeviceListing> {
    return listDevices(this.xenstore, domid, kind === undefined ? undefined : typeof kind === 'string' ? deviceTypeNamed(kind, LISTED_DEVICE_TYPES) : kind, this.#hotplug.sysfsRoot).then(jsonable);
  }

  async close(): Promise<void> {
    const owned = this.#owned;
    this.#owned = undefined;
    await owned?.();
  }

  /** `await using host = XenHost.open()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
