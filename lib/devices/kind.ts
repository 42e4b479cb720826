// What one device kind is, in one typed descriptor (libxl's libxl__device_type,
// with what xl and xen-domconfig add): the template array and identity, how
// xenstore says the device exists and the merge retrieve uses, and for kinds
// that can be hotplugged the defaults, the create-time patch, the xenstore
// recipe, the backend's wait and hotplug script, and the xl verbs. Each kind
// lives in kinds/<kind>.ts; generic code gets the descriptor, never a name.
import type { DeviceArrayName, DeviceKind, StructType } from '../config/index.js';
import type { FollowUpReads, LiveDevice, LiveList, LiveView, XenStoreNode } from './live.js';
import type { DeviceListCli } from './listing.js';
import type { DeviceJson } from './spec.js';
import type { AddRecipe, KeyValues } from './writes.js';
import type { DomainType } from '../xen.js';

export type { DeviceArrayName, DomainType };

/** A template device entry: a libxl device struct in its JSON form. */
export type DeviceEntry = Record<string, unknown>;

/** What libxl's set_default hooks know of the guest. */
export interface DefaultsContext {
  domid: number;
  domainType: DomainType;
  /** libxl's `hotplug` argument: true for a device added to a running domain. */
  hotplug: boolean;
  /** libxl__xen_script_dir_path(). */
  scriptDir: string;
  /** Where sysfs is mounted (/sys; tests point it at a folder of their own). */
  sysfsRoot: string;
  /** Reads a xenstore node (what a device model offers). */
  read(path: string): Promise<string | undefined>;
}

/** The xenstore reads a create-time patch may make (the trusted /libxl copy). */
export interface CreatedDomain {
  domid: number;
  domainType: DomainType;
  readMany(paths: string[]): Promise<(string | undefined)[]>;
  list(path: string): Promise<string[] | undefined>;
}

/** The command libxl runs as a backend's hotplug script, beyond the generic environment. */
export interface ScriptCall {
  args: string[];
  env: Record<string, string>;
  /** Environment variables set from backend keys (empty when the key is absent). */
  backendEnv?: Record<string, string>;
}

export type HotplugAction = 'add' | 'remove';

/** How a hotplugged kind is defaulted, written and waited for (libxl's add path). */
export interface HotplugRecipe extends AddRecipe {
  /** libxl's set_default: fills every field the xenstore writes need (the entry is modified). */
  setDefault(entry: DeviceEntry, context: DefaultsContext): Promise<void>;
  /** libxl's update_config: copies the generated values into the entry kept in the template. */
  updateConfig(saved: DeviceEntry, full: DeviceEntry): void;
  /** A devid of -1 is replaced by the next free one under /libxl/<domid>/device/<kind>. */
  readonly nextDevid: boolean;
  /** false where libxl adds without waiting for the backend or running a script (libxl__device_add); default true. */
  readonly waitsForBackend?: boolean;
  /** QEMU serves the backend and never waits in InitWait (libxl's QEMU backends). */
  qemuBackend(backendKind: string): boolean;
  /** The hotplug script's arguments and extra environment for a dom0 backend; undefined where libxl runs none. */
  script?(backendKind: string, action: HotplugAction, target: { domid: number; devid: number }): ScriptCall | undefined;
}

/** A verb of the command line for this kind, in xl's syntax. */
export interface DeviceCli {
  /** xl's noun: `block` for block-attach, block-detach. */
  readonly noun: string;
  /** What xl's messages call its specification: `disk` for block-attach, `vif` for network-attach. */
  readonly specName: string;
  /** Usage of the attach arguments after the domain, e.g. "<diskspec...>". */
  readonly attachUsage: string;
  readonly attachDescription: string;
  /** The device in libxl-json form from the attach arguments (throws SpecError). */
  parseSpec(args: readonly string[]): DeviceJson;
  /** One line saying what was attached. */
  attached(entry: DeviceEntry, devid: number): string;
  readonly detachUsage: string;
  readonly detachDescription: string;
  /** xl's detach option -f (libxl's destroy); without it the kind's remove mode. */
  readonly forceOption: boolean;
  /** How the detach argument names the device: the identity itself, or an entry to look up. */
  detachTarget(text: string): { identity: string | number } | { lookup: (entry: DeviceEntry) => boolean; what: string } | { invalid: string };
  /** libxl's remove mode of xl's detach: 'never' for safe remove (fail on timeout), false to force after it. */
  readonly detachForce: false | 'never';
}

/** What a kind's own attach procedure may read and call (the domain layer provides it). */
export interface AttachContext {
  domid: number;
  domainType: DomainType;
  /** Where sysfs is mounted (/sys; tests point it at a folder of their own). */
  sysfsRoot: string;
  xenstore: {
    read(path: string): Promise<string | undefined>;
    list(path: string): Promise<string[] | undefined>;
    readTree(path: string): Promise<XenStoreNode | undefined>;
  };
  /** Runs one command on the domain's QEMU over QMP; resolves to its "return". */
  qmp(command: string, args: Record<string, unknown>): Promise<unknown>;
  /** Hotplugs a device of another kind first (libxl adds a usb controller for a usb device that has none). */
  addDevice(type: DeviceType, device: DeviceEntry): Promise<{ devid: number }>;
}

/** Host-side work around a transaction of xenstore writes (sysfs binding, a QMP command). */
export interface AttachStep {
  /** The identity of the device (ctrl:port, devid) and the node whose non-empty value says it is there (a port's busid, a controller's type). */
  readonly key: string;
  readonly path: string;
  /** The number reported as the device's devid (a usb device's port), and its controller's /libxl and frontend paths. */
  readonly devid: number;
  readonly libxlPath: string;
  readonly frontendPath: string;
  /** Nodes written (path, value) in the transaction, with the template for an attach. */
  readonly writes: KeyValues;
  /** Nodes removed in that transaction. */
  readonly removes: readonly string[];
  /** Checked again inside the transaction (a port another attach took meanwhile); a message refuses. */
  recheck?(read: (path: string) => Promise<string | undefined>): Promise<string | undefined>;
  /** Before the transaction (a detach unbinds first, as libxl does). */
  before?(): Promise<void>;
  /** After the commit; on failure it leaves the host as it found it and throws. */
  after?(): Promise<void>;
  /** Removed once `after` succeeded (the notes a rebind used). */
  readonly cleanup?: readonly string[];
}

/**
 * A kind libxl hotplugs by a procedure of its own rather than
 * libxl__device_add: it has no frontend or backend of its own (a usb device
 * is a busid at a controller's port).
 */
export interface AttachRecipe {
  /**
   * libxl's setdefault and checks, then what the attach writes and does; the
   * entry is modified. Undefined where the entry is added as `add` says (a PV
   * usb controller; a QEMU-served one has its own procedure).
   */
  attach(entry: DeviceEntry, context: AttachContext): Promise<AttachStep | undefined>;
  /** What the detach of the live device with this identity does; undefined where `add`'s remove applies. */
  detach(identity: string, context: AttachContext): Promise<AttachStep | undefined>;
}

/** A device kind's descriptor; users see its name, schema, array and identity; the rest is internal. */
export interface DeviceType {
  /** libxl's name of the kind: 'disk', 'nic', … (the config schema's device kind). */
  readonly name: DeviceKind;
  /** The kind's libxl struct in the schema table. */
  readonly schema: StructType;
  /** The libxl_domain_config array holding the kind's entries. */
  readonly array: DeviceArrayName;
  /** Human name of the identity ("vdev", "devid", …). */
  readonly identity: string;
  /** Identity of a template entry; undefined when the entry has none (it can never match). @internal */
  keyOf(entry: DeviceEntry): string | undefined;

  /** Directories under /libxl/<domid>/device that list this kind (frontend kind names). @internal */
  readonly xenstoreKinds: readonly string[];
  /**
   * Keys read under each /libxl/<domid>/device/<kind>/<devid> node, by devid:
   * only what identity and merge use that the node's name and the template's
   * entries of the kind do not already say (none when absent). listLive must
   * take the same template entries to know which keys were left unread.
   * @internal
   */
  nodeKeys?(entries: readonly DeviceEntry[]): (devid: string) => readonly string[];
  /** Paths to read together with the domain's scalars. @internal */
  probe?(domid: number): string[];
  /**
   * A dom0 directory whose children are the domids the probe can find
   * anything for: a list of many domains lists it once and probes only those.
   * @internal
   */
  readonly probeDomains?: string;
  /** Reads needed once the first batch is known (kept empty in the common case). @internal */
  followUp?(view: Omit<LiveView, 'trees'>): FollowUpReads;
  /**
   * The devices xenstore says exist, and the entries it could not read
   * (libxl's from_xenstore). `entries`, the template's of this kind, stand in
   * for the node keys nodeKeys left unread; without them every key is taken
   * from the view (a whole tree read).
   * @internal
   */
  listLive(view: LiveView, entries?: readonly DeviceEntry[]): LiveList;
  /** Frontend keys listDevices reports as the guest wrote them (default event-channel and ring-ref). @internal */
  readonly reportedFrontendKeys?: readonly string[];
  /** Combines the live device with the template entry matched to it (libxl's merge hook). @internal */
  merge?(live: LiveDevice, entry: DeviceEntry): DeviceEntry;
  /**
   * libxl keeps no template entry for this kind's hotplug and does not merge
   * it on retrieve; xen-domconfig keeps one with its devid. Entries without an
   * identity (written at create time, devid -1) are kept as stored, live
   * devices without an entry are not reported, and a remove prunes the entry
   * (xl's retrieve would show it otherwise).
   * @internal
   */
  readonly entriesOptional?: boolean;

  /**
   * Why the device cannot be removed as it is (libxl first unplugs what hangs
   * off it, e.g. a controller's usb devices); undefined when it can.
   * @internal
   */
  removalBlocked?(xenstore: { readTree(path: string): Promise<XenStoreNode | undefined> }, backendPath: string): Promise<string | undefined>;
  /** libxl__update_domain_configuration for this kind at create time: generated values into the entries. @internal */
  patchCreated?(entries: DeviceEntry[], domain: CreatedDomain): Promise<void>;
  /** Hotplug: defaults and libxl's writes (libxl__device_generic_add and the kind's set_xenstore_config). @internal */
  readonly add?: HotplugRecipe;
  /** Hotplug by the kind's own procedure (usbdev), instead of `add`. @internal */
  readonly attach?: AttachRecipe;
  /** xl's <noun>-attach / <noun>-detach. @internal */
  readonly cli?: DeviceCli;
  /** xl's <noun>-list. @internal */
  readonly list?: DeviceListCli;
}
