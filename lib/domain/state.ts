// Reading one domain's live state in a few batch calls: one readMany of the
// toolstack-owned scalars (plus the device table's probes), one readTree of
// /libxl/<domid> (device records, type, dm-version), one readTree of the
// domain's cpu dir, and follow-ups only when a kind needs them (pci, pv usb).
// Everything read is toolstack-owned; frontend dirs are never touched.
import { deviceFollowUps, deviceProbes, type LiveView } from '../devices/index.js';
import type { XenStoreNode, XenStoreOps } from '../xenstore/index.js';

/** The requests this module makes (XenStore and its transactions both offer them). */
export type StateReader = Pick<XenStoreOps, 'readMany' | 'readTree'>;

export interface DomainState {
  domid: number;
  /** Every value read, by absolute path (undefined = absent). */
  values: Map<string, string | undefined>;
  /** /libxl/<domid>. */
  libxl: XenStoreNode | undefined;
  /** /local/domain/<domid>/cpu. */
  cpu: XenStoreNode | undefined;
  /** Follow-up subtrees, by absolute path. */
  trees: Map<string, XenStoreNode | undefined>;
}

export function domainPaths(domid: number) {
  const home = `/local/domain/${domid}`;
  return {
    home,
    vm: `${home}/vm`,
    name: `${home}/name`,
    target: `${home}/memory/target`,
    staticMax: `${home}/memory/static-max`,
    cpu: `${home}/cpu`,
    libxl: `/libxl/${domid}`,
  };
}

/** The scalars retrieve needs, and the device probes. */
export function scalarPaths(domid: number): string[] {
  const paths = domainPaths(domid);
  return [paths.vm, paths.name, paths.target, paths.staticMax, ...deviceProbes(domid)];
}

export async function readScalars(ops: StateReader, domid: number): Promise<Map<string, string | undefined>> {
  const paths = scalarPaths(domid);
  const values = await ops.readMany(paths);
  return new Map(paths.map((path, i) => [path, values[i]]));
}

/**
 * The rest of the state. `scalars` may come from an earlier readScalars on
 * the same ops; otherwise they are read here, alongside the trees.
 */
export async function readDomainState(ops: StateReader, domid: number, scalars?: Map<string, string | undefined>): Promise<DomainState> {
  const paths = domainPaths(domid);
  const [values, libxl, cpu] = await Promise.all([
    scalars ? Promise.resolve(new Map(scalars)) : readScalars(ops, domid),
    ops.readTree(paths.libxl),
    ops.readTree(paths.cpu),
  ]);
  const state: DomainState = { domid, values, libxl, cpu, trees: new Map() };
  const follow = deviceFollowUps(liveView(state));
  await Promise.all([
    follow.values.length === 0 ? undefined : ops.readMany(follow.values).then((read) => {
      follow.values.forEach((path, i) => values.set(path, read[i]));
    }),
    ...follow.trees.map((path) => ops.readTree(path).then((tree) => { state.trees.set(path, tree); })),
  ]);
  return state;
}

export function liveView(state: DomainState): LiveView {
  return {
    domid: state.domid,
    libxlDevices: state.libxl?.children.find((child) => child.name === 'device'),
    values: state.values,
    trees: state.trees,
  };
}

/** A direct child value of /libxl/<domid> (type, dm-version). */
export function libxlValue(state: DomainState, name: string): string | undefined {
  return state.libxl?.children.find((child) => child.name === name)?.value;
}
