// The xenstore side of hotplug and unplug, with libxl's result:
// libxl__device_generic_add (nodes, keys, values, permissions, order) and
// libxl__device_destroy / libxl__initiate_device_remove. These functions only
// issue operations on the XenStoreOps they are given — normally a transaction
// the caller retries — and never commit or lock anything themselves. Requests
// that do not wait for each other's answers go as one batch: libxl's
// requests in its order, less the permissions a new key inherits anyway, in
// one round trip.
import { XenbusState, type DomainType } from '../xen.js';
import type { XenStoreBatchResult, XenStoreBatchStep } from '../xenstore/types.js';

/** An xenstore permission entry; the first one names the owner and everyone else's access. */
export interface XsPermission {
  domid: number;
  read: boolean;
  write: boolean;
}

/** The xenstore operations used here (implemented by XenStore and by its transactions). */
export interface XenStoreWriteOps {
  read(path: string): Promise<string | undefined>;
  list(path: string): Promise<string[] | undefined>;
  write(path: string, value: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  rm(path: string): Promise<void>;
  setPermissions(path: string, permissions: XsPermission[]): Promise<void>;
  /** Steps in order, as XenStoreOps.batch; without it they run one by one. */
  batch?(steps: readonly XenStoreBatchStep[]): Promise<XenStoreBatchResult[]>;
}

/** XenStoreOps.batch, or its steps one by one where ops has none (an rm of a missing node succeeds). */
export async function runSteps(ops: XenStoreWriteOps, steps: readonly XenStoreBatchStep[]): Promise<XenStoreBatchResult[]> {
  if (ops.batch) return ops.batch(steps);
  const results: XenStoreBatchResult[] = [];
  for (const step of steps) {
    switch (step.op) {
      case 'read': results.push(await ops.read(step.path)); break;
      case 'list': results.push(await ops.list(step.path)); break;
      case 'write': await ops.write(step.path, String(step.value)); break;
      case 'mkdir': await ops.mkdir(step.path); break;
      case 'setPermissions': await ops.setPermissions(step.path, [...step.perms]); break;
      case 'rm':
        try {
          await ops.rm(step.path);
        } catch (error) {
          if ((error as { code?: string }).code !== 'ENOENT') throw error;
        }
        break;
    }
    if (step.op !== 'read' && step.op !== 'list') results.push(undefined);
  }
  return results;
}

export type KeyValues = Array<readonly [key: string, value: string]>;

export interface AddContext {
  /** The guest. */
  domid: number;
  domainType: DomainType;
  /** xc_domain_get_native_protocol (e.g. "x86_64-abi"), written into PV disk frontends; omitted when undefined. */
  nativeProtocol?: string;
  /** libxl__xen_script_dir_path(); default /etc/xen/scripts. */
  scriptDir?: string;
}

/** How one kind becomes xenstore nodes (libxl's to_device + set_xenstore_config). Entries must be defaulted. */
export interface AddRecipe {
  /** Kind of the frontend dir and of /libxl/<domid>/device/<kind> (libxl__device.kind). */
  frontendKind(entry: Record<string, unknown>): string;
  /** Kind of the backend dir (libxl__device.backend_kind). */
  backendKind(entry: Record<string, unknown>): string;
  devid(entry: Record<string, unknown>): number;
  backendDomid(entry: Record<string, unknown>): number;
  /** Backend keys in libxl's order (the `frontend` key is added by the generic part). */
  backend(entry: Record<string, unknown>, context: AddContext): KeyValues;
  /** Frontend keys, guest-writable (the `backend` key is added by the generic part). */
  frontend(entry: Record<string, unknown>, context: AddContext): KeyValues;
  /** Frontend keys the guest may only read. */
  readOnlyFrontend(entry: Record<string, unknown>, context: AddContext): KeyValues;
}

/** Where one device lives in xenstore. */
export interface DeviceNodes {
  domid: number;
  devid: number;
  frontendKind: string;
  backendKind: string;
  backendDomid: number;
  /** /libxl/<domid>/device/<kind>/<devid>: the toolstack's trusted record. */
  libxlPath: string;
  /** /local/domain/<domid>/device/<kind>/<devid>: guest-owned. */
  frontendPath: string;
  /** /local/domain/<backend>/backend/<bkind>/<domid>/<devid>: owned by the backend domain. */
  backendPath: string;
}

/** Everything libxl__device_generic_add writes for one device. */
export interface DeviceAddPlan extends DeviceNodes {
  backend: KeyValues;
  frontend: KeyValues;
  readOnlyFrontend: KeyValues;
  /** [{guest, none}, {backend, read}] */
  frontendPermissions: XsPermission[];
  /** [{backend, none}, {guest, read}] — also for read-only frontend keys */
  backendPermissions: XsPermission[];
}

export function deviceNodes(domid: number, frontendKind: string, devid: number, backendKind: string, backendDomid: number): DeviceNodes {
  return {
    domid,
    devid,
    frontendKind,
    backendKind,
    backendDomid,
    libxlPath: `/libxl/${domid}/device/${frontendKind}/${devid}`,
    frontendPath: `/local/domain/${domid}/device/${frontendKind}/${devid}`,
    backendPath: `/local/domain/${backendDomid}/backend/${backendKind}/${domid}/${devid}`,
  };
}

export function planDeviceAdd(recipe: AddRecipe, entry: Record<string, unknown>, context: AddContext): DeviceAddPlan {
  const backendDomid = recipe.backendDomid(entry);
  const nodes = deviceNodes(context.domid, recipe.frontendKind(entry), recipe.devid(entry), recipe.backendKind(entry), backendDomid);
  return {
    ...nodes,
    backend: recipe.backend(entry, context),
    frontend: recipe.frontend(entry, context),
    readOnlyFrontend: recipe.readOnlyFrontend(entry, context),
    frontendPermissions: [
      { domid: context.domid, read: false, write: false },
      { domid: backendDomid, read: true, write: false },
    ],
    backendPermissions: [
      { domid: backendDomid, read: false, write: false },
      { domid: context.domid, read: true, write: false },
    ],
  };
}

/** libxl__device_exists: the /libxl record decides. */
export async function deviceExists(ops: XenStoreWriteOps, nodes: DeviceNodes): Promise<boolean> {
  return (await ops.read(nodes.libxlPath)) !== undefined;
}

/** libxl__device_generic_add, inside the caller's transaction. */
export async function writeDeviceAdd(ops: XenStoreWriteOps, plan: DeviceAddPlan): Promise<void> {
  await runSteps(ops, deviceAddSteps(plan));
}

/** The requests of libxl__device_generic_add, in its order (an rm of a missing node is done). */
export function deviceAddSteps(plan: DeviceAddPlan): XenStoreBatchStep[] {
  const write = (path: string, value: string): XenStoreBatchStep => ({ op: 'write', path, value });
  const steps: XenStoreBatchStep[] = [
    { op: 'rm', path: plan.libxlPath },
    write(`${plan.libxlPath}/frontend`, plan.frontendPath),
    write(`${plan.libxlPath}/backend`, plan.backendPath),
  ];
  if (plan.frontend.length > 0 || plan.readOnlyFrontend.length > 0) {
    steps.push(
      { op: 'rm', path: plan.frontendPath },
      { op: 'mkdir', path: plan.frontendPath },
      { op: 'setPermissions', path: plan.frontendPath, perms: plan.frontendPermissions },
      write(`${plan.frontendPath}/backend`, plan.backendPath),
    );
    // A node dom0 creates takes its parent's permissions (C xenstored and
    // oxenstored alike), so the writable keys get the directory's here; libxl
    // sets the same permissions on each key again, one request per key.
    for (const [key, value] of plan.frontend) steps.push(write(`${plan.frontendPath}/${key}`, value));
    for (const [key, value] of plan.readOnlyFrontend) {
      const path = `${plan.frontendPath}/${key}`;
      steps.push(write(path, value), { op: 'setPermissions', path, perms: plan.backendPermissions });
    }
  }

  if (plan.backend.length > 0) {
    steps.push(
      { op: 'rm', path: plan.backendPath },
      { op: 'mkdir', path: plan.backendPath },
      { op: 'setPermissions', path: plan.backendPath, perms: plan.backendPermissions },
      write(`${plan.backendPath}/frontend`, plan.frontendPath),
    );
    for (const [key, value] of plan.backend) steps.push(write(`${plan.backendPath}/${key}`, value));
    // The trusted copy (XSA-178): readers use this, never the backend dir.
    for (const [key, value] of plan.backend) steps.push(write(`${plan.libxlPath}/${key}`, value));
  }
  return steps;
}

/**
 * First step of libxl__initiate_device_remove: online=0 and state=5 (Closing)
 * in the backend unless it is already Closed; with `force`, the frontend is
 * cleaned up first. Returns what the backend state was.
 */
export async function writeDeviceClosing(
  ops: XenStoreWriteOps,
  nodes: DeviceNodes,
  options: { force?: boolean } = {},
): Promise<'absent' | 'closed' | 'closing'> {
  if (options.force) await cleanupPath(ops, nodes.frontendPath);
  const state = await ops.read(`${nodes.backendPath}/state`);
  if (state === undefined) return 'absent';
  if (state === String(XenbusState.Closed)) return 'closed';
  await runSteps(ops, [
    { op: 'write', path: `${nodes.backendPath}/online`, value: '0' },
    { op: 'write', path: `${nodes.backendPath}/state`, value: String(XenbusState.Closing) },
  ]);
  return 'closing';
}

/** libxl__device_destroy run by the toolstack domain: frontend, backend and /libxl record. */
export async function destroyDeviceNodes(ops: XenStoreWriteOps, nodes: DeviceNodes): Promise<void> {
  await cleanupPaths(ops, [nodes.frontendPath, nodes.backendPath, nodes.libxlPath]);
}

/** libxl__xs_path_cleanup of one path. */
export async function cleanupPath(ops: XenStoreWriteOps, path: string): Promise<void> {
  await cleanupPaths(ops, [path]);
}

/**
 * libxl__xs_path_cleanup of each path: remove the node, then each ancestor
 * that is now an empty directory with an empty value. One batch per level:
 * the removals, then the reads of the parents that decide the next level's.
 * As in libxl, a path already gone still has its emptied ancestors removed
 * (xenstored answers an rm of a missing node whose parent exists OK). An emptied
 * ancestor that cannot be removed is left without an error, as libxl ignores
 * it (xenstored can refuse one another client is changing); the paths
 * themselves must go, and EAGAIN reruns the caller's transaction.
 */
export async function cleanupPaths(ops: XenStoreWriteOps, paths: readonly string[]): Promise<void> {
  let level = [...paths];
  for (let own = true; level.length > 0; own = false) {
    const parents = [...new Set(level.map((path) => path.slice(0, path.lastIndexOf('/'))).filter((parent) => parent !== ''))];
    const steps: XenStoreBatchStep[] = level.map((path) => ({ op: 'rm', path }));
    for (const parent of parents) steps.push({ op: 'read', path: parent }, { op: 'list', path: parent });
    let results: XenStoreBatchResult[];
    try {
      results = await runSteps(ops, steps);
    } catch (error) {
      if (own || (error as { code?: string }).code === 'EAGAIN') throw error;
      // An ancestor was refused: this level one node at a time, leaving the refused.
      for (const path of level) await runSteps(ops, [{ op: 'rm', path }]).catch((refused: unknown) => { if ((refused as { code?: string }).code === 'EAGAIN') throw refused; });
      results = [...level.map(() => undefined), ...await runSteps(ops, steps.slice(level.length))];
    }
    level = parents.filter((_, i) => {
      const value = results[level.length + 2 * i];
      const children = results[level.length + 2 * i + 1];
      return value === '' && Array.isArray(children) && children.length === 0;
    });
  }
}
