// The xenstore side of hotplug and unplug, exactly as libxl does it:
// libxl__device_generic_add (nodes, keys, values, permissions, order) and
// libxl__device_destroy / libxl__initiate_device_remove. These functions only
// issue operations on the XenStoreOps they are given — normally a transaction
// the caller retries — and never commit or lock anything themselves.

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
}

export type KeyValues = Array<readonly [key: string, value: string]>;

export interface AddContext {
  /** The guest. */
  domid: number;
  domainType: 'pv' | 'pvh' | 'hvm';
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
  await rmIfPresent(ops, plan.libxlPath);
  await ops.write(`${plan.libxlPath}/frontend`, plan.frontendPath);
  await ops.write(`${plan.libxlPath}/backend`, plan.backendPath);

  if (plan.frontend.length > 0 || plan.readOnlyFrontend.length > 0) {
    await rmIfPresent(ops, plan.frontendPath);
    await ops.mkdir(plan.frontendPath);
    await ops.setPermissions(plan.frontendPath, plan.frontendPermissions);
    await ops.write(`${plan.frontendPath}/backend`, plan.backendPath);
    await writeWithPermissions(ops, plan.frontendPath, plan.frontend, plan.frontendPermissions);
    await writeWithPermissions(ops, plan.frontendPath, plan.readOnlyFrontend, plan.backendPermissions);
  }

  if (plan.backend.length > 0) {
    await rmIfPresent(ops, plan.backendPath);
    await ops.mkdir(plan.backendPath);
    await ops.setPermissions(plan.backendPath, plan.backendPermissions);
    await ops.write(`${plan.backendPath}/frontend`, plan.frontendPath);
    for (const [key, value] of plan.backend) await ops.write(`${plan.backendPath}/${key}`, value);
    // The trusted copy (XSA-178): readers use this, never the backend dir.
    for (const [key, value] of plan.backend) await ops.write(`${plan.libxlPath}/${key}`, value);
  }
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
  if (state === '6') return 'closed';
  await ops.write(`${nodes.backendPath}/online`, '0');
  await ops.write(`${nodes.backendPath}/state`, '5');
  return 'closing';
}

/** libxl__device_destroy run by the toolstack domain: frontend, backend and /libxl record. */
export async function destroyDeviceNodes(ops: XenStoreWriteOps, nodes: DeviceNodes): Promise<void> {
  await cleanupPath(ops, nodes.frontendPath);
  await cleanupPath(ops, nodes.backendPath);
  await cleanupPath(ops, nodes.libxlPath);
}

/**
 * libxl__xs_path_cleanup: remove the node, then each ancestor that is now an
 * empty directory with an empty value.
 */
export async function cleanupPath(ops: XenStoreWriteOps, path: string): Promise<void> {
  if ((await ops.read(path)) === undefined) return;
  await ops.rm(path);
  let current = path;
  for (;;) {
    current = current.slice(0, current.lastIndexOf('/'));
    if (current === '') return;
    const value = await ops.read(current);
    if (value !== '') return;
    const children = await ops.list(current);
    if (!children || children.length > 0) return;
    await ops.rm(current);
  }
}

async function writeWithPermissions(ops: XenStoreWriteOps, dir: string, entries: KeyValues, permissions: XsPermission[]): Promise<void> {
  for (const [key, value] of entries) {
    await ops.write(`${dir}/${key}`, value);
    await ops.setPermissions(`${dir}/${key}`, permissions);
  }
}

async function rmIfPresent(ops: XenStoreWriteOps, path: string): Promise<void> {
  try {
    await ops.rm(path);
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
  }
}
