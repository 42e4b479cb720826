// Reading one domain's live state with as few requests as possible: a
// listing of /libxl/<domid>/device, then one readMany of the toolstack-owned
// scalars, the device table's probes, just the keys the device table uses
// under each device node and the domain's cpu/<i>/availability; follow-ups
// only when a kind asks (removable disks, pci, pv usb). Everything read is
// toolstack-owned; frontend dirs are never touched.
import { DEVICE_TYPES, deviceFollowUps, deviceProbes, MAX_DEVICES_PER_KIND, type DeviceType, type LiveView } from '../devices/index.js';
import type { XenStoreNode, XenStoreOps } from '../xenstore/index.js';

/** The requests this module makes (XenStore, its transactions and the pipelined reader offer them). */
export type StateReader = Pick<XenStoreOps, 'readMany' | 'readTree' | 'list'>;

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

/** What each /libxl device dir needs read: keys and whole subdirectories, from the table. */
const NODE_READS = (() => {
  const reads = new Map<string, { keys: Set<string>; trees: Set<string> }>();
  for (const type of DEVICE_TYPES) {
    for (const kind of type.xenstoreKinds) {
      const entry = reads.get(kind) ?? { keys: new Set<string>(), trees: new Set<string>() };
      type.nodeKeys.forEach((key) => entry.keys.add(key));
      type.nodeTrees?.forEach((tree) => entry.trees.add(tree));
      reads.set(kind, entry);
    }
  }
  return reads;
})();

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
  const early = expected.filter((kind) => NODE_READS.has(kind));
  const [listed, ...earlyDevids] = await Promise.all([ops.list(base), ...early.map((kind) => ops.list(`${base}/${kind}`))]);
  const devids = new Map(early.map((kind, i) => [kind, earlyDevids[i]]));
  const kinds = (listed ?? []).filter((kind) => NODE_READS.has(kind));
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
  /** Device dirs to list at once (the template's kinds), without waiting for /libxl/<domid>/device. */
  expectedKinds?: readonly string[];
}

export async function readDomainState(ops: StateReader, domid: number, options: StateReadOptions, paths: DomainPaths): Promise<DomainState> {
  const listing = await listDeviceNodes(ops, paths.libxlDevices, options.expectedKinds);
  const values = new Map<string, string | undefined>();

  // One batch: the scalars and probes, each listed device node's keys (in
  // listing order), then the vCPUs; the replies are taken back in that order.
  const scalars = scalarPaths(paths, domid, options.hvm, options.probed);
  const batch = [...scalars];
  const treePaths: string[] = [];
  for (const [kind, devids] of listing) {
    const reads = NODE_READS.get(kind)!;
    for (const devid of devids) {
      const node = `${paths.libxlDevices}/${kind}/${devid}`;
      for (const key of reads.keys) batch.push(`${node}/${key}`);
      for (const tree of reads.trees) treePaths.push(`${node}/${tree}`);
    }
  }
  const nodeKeysEnd = batch.length;
  const vcpus = vcpusToRead(options.maxVcpus);
  for (let i = 0; i < vcpus; i++) batch.push(paths.availability(i));
  const [read, trees] = await Promise.all([
    batch.length === 0 ? [] : ops.readMany(batch),
    Promise.all(treePaths.map((path) => ops.readTree(path))),
  ]);
  // The device keys go into the tree only.
  for (let i = 0; i < scalars.length; i++) values.set(batch[i]!, read[i]);
  for (let i = nodeKeysEnd; i < batch.length; i++) values.set(batch[i]!, read[i]);

  const libxlDevices = deviceTree(listing, read, scalars.length, trees);
  const state: DomainState = { domid, paths, values, libxlDevices, trees: new Map() };
  const follow = deviceFollowUps(liveView(state));
  await Promise.all([
    follow.values.length === 0 ? undefined : ops.readMany(follow.values).then((more) => {
      follow.values.forEach((path, i) => values.set(path, more[i]));
    }),
    ...follow.trees.map((path) => ops.readTree(path).then((tree) => { state.trees.set(path, tree); })),
  ]);
  return state;
}

/**
 * /libxl/<domid>/device as a tree holding just what was read: the node keys'
 * values from `read` from index `first` on, the subtrees in `subtrees`, both in
 * listing order.
 */
function deviceTree(
  listing: DeviceListing,
  read: readonly (string | undefined)[],
  first: number,
  subtrees: readonly (XenStoreNode | undefined)[],
): XenStoreNode | undefined {
  if (listing.size === 0) return undefined;
  let next = first;
  let nextTree = 0;
  const kinds: XenStoreNode[] = [];
  for (const [kind, devids] of listing) {
    const reads = NODE_READS.get(kind)!;
    const nodes = devids.map((devid): XenStoreNode => {
      const children: XenStoreNode[] = [];
      for (const key of reads.keys) {
        const value = read[next++];
        if (value !== undefined) children.push({ name: key, value, children: [] });
      }
      for (let t = 0; t < reads.trees.size; t++) {
        const subtree = subtrees[nextTree++];
        if (subtree) children.push(subtree);
      }
      return { name: devid, value: '', children };
    });
    kinds.push({ name: kind, value: '', children: nodes });
  }
  return { name: 'device', value: '', children: kinds };
}

export function liveView(state: DomainState): LiveView {
  return { domid: state.domid, libxlDevices: state.libxlDevices, values: state.values, trees: state.trees };
}
