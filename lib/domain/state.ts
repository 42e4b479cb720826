// Reading one domain's live state with as few requests as possible: a
// listing of /libxl/<domid>/device and of its device dirs, then one readMany
// of the toolstack-owned scalars, the device table's probes, the device node
// keys the template does not imply (none for the nodes of its own disks and
// nics, but a removable disk's params) and the domain's cpu/<i>/availability
// (an HVM guest's only once dm-version says QEMU does not answer for them);
// follow-ups only when a kind asks (pci, pv usb). Everything read is
// toolstack-owned; frontend dirs are never touched.
import {
  DEVICE_TYPES, deviceFollowUps, deviceProbes, MAX_DEVICES_PER_KIND, templateDeviceKinds, type DeviceArrays, type DeviceType, type LiveView,
} from '../devices/index.js';
import type { XenStoreNode, XenStoreOps } from '../xenstore/index.js';

/** The requests this module makes (XenStore, its transactions and the pipelined reader offer them). */
export type StateReader = Pick<XenStoreOps, 'readMany' | 'readTree' | 'list'>;

/** The device model whose vCPUs xenstore's cpu/<i>/availability follows (qemu-xen answers over QMP). */
export const DM_VERSION_TRADITIONAL = 'qemu_xen_traditional';

/** Xen's upper bound on vCPUs; a template claiming more is not believed. */
export const MAX_VCPUS = 4096;

/** The vCPUs whose availability is read: the template's max_vcpus, capped at MAX_VCPUS. */
export function vcpusToRead(maxVcpus: number): number {
  return Math.max(0, Math.min(Number.isInteger(maxVcpus) ? maxVcpus : 0, MAX_VCPUS));
}

export interface DomainState {
  domid: number;
  /** The domain's paths, made once: the values map's keys are these very strings. */
  paths: DomainPaths;
  /** The values read, by absolute path (undefined = absent); device node keys are in libxlDevices instead. */
  values: Map<string, string | undefined>;
  /** /libxl/<domid>/device with only the keys the device table reads. */
  libxlDevices: XenStoreNode | undefined;
  /** Follow-up subtrees, by absolute path. */
  trees: Map<string, XenStoreNode | undefined>;
}

/** Device dirs under /libxl/<domid>/device, with the devids listed in each. */
export type DeviceListing = Map<string, string[]>;

export type DomainPaths = ReturnType<typeof domainPaths>;

export function domainPaths(domid: number) {
  const home = `/local/domain/${domid}`;
  return {
    home,
    vm: `${home}/vm`,
    name: `${home}/name`,
    target: `${home}/memory/target`,
    staticMax: `${home}/memory/static-max`,
    cpu: `${home}/cpu`,
    availability: (vcpu: number) => `${home}/cpu/${vcpu}/availability`,
    libxlDevices: `/libxl/${domid}/device`,
    dmVersion: `/libxl/${domid}/dm-version`,
  };
}

/** The kinds listed in each /libxl device dir. */
const DEVICE_DIRS = (() => {
  const dirs = new Map<string, DeviceType[]>();
  for (const type of DEVICE_TYPES) {
    for (const kind of type.xenstoreKinds) dirs.set(kind, [...dirs.get(kind) ?? [], type]);
  }
  return dirs;
})();

const NO_KEYS: readonly string[] = [];

/** The keys to read under one node of a dir, by devid, for this template (what it does not imply). */
function nodeKeysOf(kind: string, template: DeviceArrays): (devid: string) => readonly string[] {
  const keyed = DEVICE_DIRS.get(kind)!.flatMap((type) => (type.nodeKeys ? [type.nodeKeys(template[type.array] ?? [])] : []));
  if (keyed.length === 0) return () => NO_KEYS;
  if (keyed.length === 1) return keyed[0]!;
  return (devid) => [...new Set(keyed.flatMap((keys) => keys(devid)))];
}

/**
 * The nodes to watch so that a change of anything a read read is seen: the
 * paths it read (requests' own paths, listings included), the vCPU dir whole
 * instead of one node per vCPU, and none that another one covers. Without
 * `read`, the paths every read of the domain makes (HVM's included).
 */
export function watchRoots(domid: number, read?: Iterable<string>): string[] {
  const paths = domainPaths(domid);
  const roots = new Set<string>([paths.cpu, paths.libxlDevices]);
  for (const path of read ?? scalarPaths(paths, domid, true)) roots.add(isBelow(path, paths.cpu) ? paths.cpu : path);
  return [...roots].filter((path) => ![...roots].some((other) => other !== path && isBelow(path, other)));
}

/** path is below dir (not dir itself). */
function isBelow(path: string, dir: string): boolean {
  return path.length > dir.length && path.startsWith(dir) && path[dir.length] === '/';
}

/** The scalars retrieve needs, and the device probes; dm-version only matters for HVM guests. */
function scalarPaths(paths: DomainPaths, domid: number, hvm: boolean, probed: readonly DeviceType[] = DEVICE_TYPES): string[] {
  return [paths.vm, paths.name, paths.target, paths.staticMax, ...(hvm ? [paths.dmVersion] : []), ...deviceProbes(domid, probed)];
}

/**
 * The device dirs the table knows and their devids (one more than the cap, so
 * overflow is seen). The `expected` dirs (the template's kinds) are listed
 * together with /libxl/<domid>/device, the others it names after it.
 */
async function listDeviceNodes(ops: StateReader, base: string, expected: readonly string[] = []): Promise<DeviceListing> {
  const early = expected.filter((kind) => DEVICE_DIRS.has(kind));
  const [listed, ...earlyDevids] = await Promise.all([ops.list(base), ...early.map((kind) => ops.list(`${base}/${kind}`))]);
  const devids = new Map(early.map((kind, i) => [kind, earlyDevids[i]]));
  const kinds = (listed ?? []).filter((kind) => DEVICE_DIRS.has(kind));
  const late = kinds.filter((kind) => !devids.has(kind));
  (await Promise.all(late.map((kind) => ops.list(`${base}/${kind}`)))).forEach((names, i) => devids.set(late[i]!, names));
  return new Map(kinds.map((kind) => [kind, (devids.get(kind) ?? []).slice(0, MAX_DEVICES_PER_KIND + 1)]));
}

export interface StateReadOptions {
  /** b_info.max_vcpus of the template: which cpu/<i>/availability to read. */
  maxVcpus: number;
  /** b_info.type of the template is hvm: dm-version is read too. */
  hvm: boolean;
  /** The kinds whose probes to read (default all; a list leaves out those its probeDomains rule out). */
  probed?: readonly DeviceType[];
  /**
   * The template's device arrays: its kinds' dirs are listed at once, without
   * waiting for /libxl/<domid>/device, and device node keys it implies are not read.
   */
  template?: DeviceArrays;
}

/** The device node keys of one node, in the batch from `first` on. */
interface NodeRead {
  keys: readonly string[];
  first: number;
}

export async function readDomainState(ops: StateReader, domid: number, options: StateReadOptions, paths: DomainPaths): Promise<DomainState> {
  const template = options.template ?? {};
  const listing = await listDeviceNodes(ops, paths.libxlDevices, templateDeviceKinds(template));
  const values = new Map<string, string | undefined>();

  // One batch: the scalars and probes, the keys of each listed device node
  // the template does not imply (in listing order), then the vCPUs; the
  // replies are taken back in that order.
  const scalars = scalarPaths(paths, domid, options.hvm, options.probed);
  const batch = [...scalars];
  const nodeReads = new Map<string, NodeRead[]>();
  for (const [kind, devids] of listing) {
    const keysOf = nodeKeysOf(kind, template);
    nodeReads.set(kind, devids.map((devid) => {
      const node = `${paths.libxlDevices}/${kind}/${devid}`;
      const read = { keys: keysOf(devid), first: batch.length };
      for (const key of read.keys) batch.push(`${node}/${key}`);
      return read;
    }));
  }
  const nodeKeysEnd = batch.length;
  // An HVM guest's vCPUs come from QEMU, unless dm-version (in this batch) says qemu-xen-traditional.
  const availability = Array.from({ length: vcpusToRead(options.maxVcpus) }, (_, i) => paths.availability(i));
  if (!options.hvm) batch.push(...availability);
  const read = batch.length === 0 ? [] : await ops.readMany(batch);
  // The device keys go into the tree only.
  for (let i = 0; i < scalars.length; i++) values.set(batch[i]!, read[i]);
  for (let i = nodeKeysEnd; i < batch.length; i++) values.set(batch[i]!, read[i]);

  const libxlDevices = deviceTree(listing, nodeReads, read);
  const state: DomainState = { domid, paths, values, libxlDevices, trees: new Map() };
  const follow = deviceFollowUps(liveView(state));
  if (options.hvm && values.get(paths.dmVersion) === DM_VERSION_TRADITIONAL) follow.values.push(...availability);
  await Promise.all([
    follow.values.length === 0 ? undefined : ops.readMany(follow.values).then((more) => {
      follow.values.forEach((path, i) => values.set(path, more[i]));
    }),
    ...follow.trees.map((path) => ops.readTree(path).then((tree) => { state.trees.set(path, tree); })),
  ]);
  return state;
}

/**
 * /libxl/<domid>/device as a tree holding just what was read: each node's
 * keys' values from `read` where `nodeReads` says.
 */
function deviceTree(
  listing: DeviceListing,
  nodeReads: ReadonlyMap<string, readonly NodeRead[]>,
  read: readonly (string | undefined)[],
): XenStoreNode | undefined {
  if (listing.size === 0) return undefined;
  const kinds: XenStoreNode[] = [];
  for (const [kind, devids] of listing) {
    const reads = nodeReads.get(kind)!;
    const nodes = devids.map((devid, d): XenStoreNode => {
      const children: XenStoreNode[] = [];
      const { keys, first } = reads[d]!;
      keys.forEach((key, k) => {
        const value = read[first + k];
        if (value !== undefined) children.push({ name: key, value, children: [] });
      });
      return { name: devid, value: '', children };
    });
    kinds.push({ name: kind, value: '', children: nodes });
  }
  return { name: 'device', value: '', children: kinds };
}

export function liveView(state: DomainState): LiveView {
  return { domid: state.domid, libxlDevices: state.libxlDevices, values: state.values, trees: state.trees };
}
