// What the kind descriptors share: reading /libxl/<domid>/device/<kind>/<devid>
// nodes defensively, reading fields of a defaulted entry for the xenstore
// recipe, and the generic keys every backend and frontend get.
import {
  childNamed,
  leafValues,
  MAX_DEVICES_PER_KIND,
  type DeviceProblem,
  type LiveDevice,
  type LiveList,
  type LiveView,
  type XenStoreNode,
} from '../live.js';
import { nameErrorClass, XenDomconfigError } from '../../errors.js';
import { parseBackendPath, parseSmallUint, XenstoreValueError } from '../parse.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
import type { AddContext, KeyValues } from '../writes.js';
import { DEFAULT_SCRIPT_DIR, MAX_DEVID, XenbusState } from '../../xen.js';

// ---------------------------------------------------------------------------
// Reading /libxl/<domid>/device/<kind>/<devid> nodes

export type NodeReader = (node: { path: string; devid: number; values: Map<string, string>; tree: XenStoreNode }) => LiveDevice;

/** One live device per /libxl/<domid>/device/<kind>/<devid>; a bad node is one problem. */
export function listLibxlNodes(view: LiveView, name: string, kinds: readonly string[], read: NodeReader): LiveList {
  const devices: LiveDevice[] = [];
  const problems: DeviceProblem[] = [];
  for (const kind of kinds) {
    const dir = childNamed(view.libxlDevices, kind);
    if (!dir) continue;
    const base = `/libxl/${view.domid}/device/${kind}`;
    for (const child of dir.children.slice(0, MAX_DEVICES_PER_KIND)) {
      const path = `${base}/${child.name}`;
      try {
        const devid = parseSmallUint(path, child.name);
        devices.push(read({ path, devid, values: leafValues(child), tree: child }));
      } catch (error) {
        problems.push({ kind: name, path, reason: reasonOf(error) });
      }
    }
    if (dir.children.length > MAX_DEVICES_PER_KIND) {
      problems.push({ kind: name, path: base, reason: `more than ${MAX_DEVICES_PER_KIND} entries; the rest were not read` });
    }
  }
  return { devices, problems };
}

/** The reason of a value error; anything else is not a problem of the node and goes on up. */
export function reasonOf(error: unknown): string {
  if (error instanceof XenstoreValueError) return error.message;
  throw error;
}

/** `backend` must name a backend dir of this very device's domain and devid. */
export function checkedBackend(path: string, values: Map<string, string>, domid: number) {
  const backend = parseBackendPath(`${path}/backend`, values.get('backend'));
  if (backend.frontendDomid !== domid) {
    throw new XenstoreValueError(`${path}/backend`, `backend path is for domain ${backend.frontendDomid}`, values.get('backend'));
  }
  return backend;
}

export function domidOfPath(path: string): number {
  return Number(path.split('/')[2]);
}

export function integerKey(value: unknown): string | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 ? String(value) : undefined;
}

/**
 * The retrieve side of a kind whose identity is the devid (libxl's default
 * get_path and devid compare): the node's name is the devid, and no key under
 * it is read. libxl's from_xenstore also reads `backend`, for a backend domid
 * the merge never uses.
 * @internal
 */
export function devidIdentity(name: string, kind: string): Pick<DeviceType, 'xenstoreKinds' | 'identity' | 'keyOf' | 'listLive'> {
  return {
    xenstoreKinds: [kind],
    identity: 'devid',
    keyOf: (entry) => integerKey(entry.devid),
    listLive: (view) => listLibxlNodes(view, name, [kind], ({ path, devid }) => ({ kind: name, key: String(devid), path })),
  };
}

// ---------------------------------------------------------------------------
// Fields of an entry, for the recipes (entries carry their defaults by then)

export const XENBUS_INITIALISING = String(XenbusState.Initialising);

/** A field the recipe cannot render. */
export class DeviceEntryError extends XenDomconfigError {
  declare readonly code: 'EINVAL';
  constructor(readonly field: string, message: string) {
    super('EINVAL', `${field}: ${message}`);
  }
}
nameErrorClass(DeviceEntryError, 'DeviceEntryError');

/** A device libxl's set_default refuses. */
export class DeviceDefaultsError extends XenDomconfigError {
  declare readonly code: 'EINVAL';
  constructor(message: string) {
    super('EINVAL', message);
  }
}
nameErrorClass(DeviceDefaultsError, 'DeviceDefaultsError');

export function text(entry: DeviceEntry, field: string): string | undefined {
  const value = entry[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new DeviceEntryError(field, 'expected a string');
  return value;
}

export function requiredText(entry: DeviceEntry, field: string): string {
  const value = text(entry, field);
  if (value === undefined) throw new DeviceEntryError(field, 'missing (defaults must be applied first)');
  return value;
}

export function integer(entry: DeviceEntry, field: string, fallback?: number): number {
  const value = entry[field] ?? fallback;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value !== 'number' || !Number.isInteger(value)) throw new DeviceEntryError(field, 'expected an integer');
  return value;
}

/** A libxl defbool in any of its JSON-side spellings; `fallback` is the setdefault value. */
export function defbool(entry: DeviceEntry, field: string, fallback: boolean): boolean {
  const value = entry[field];
  if (value === undefined || value === null || value === 'default') return fallback;
  if (value === true || value === 'True') return true;
  if (value === false || value === 'False') return false;
  throw new DeviceEntryError(field, 'expected a defbool');
}

export function flag(entry: DeviceEntry, field: string): boolean {
  const value = entry[field];
  return value === true || (typeof value === 'number' && value !== 0);
}

/** libxl__abs_path: relative names live in the script dir. */
export function scriptPath(name: string, context: AddContext): string {
  return name.startsWith('/') ? name : `${context.scriptDir ?? DEFAULT_SCRIPT_DIR}/${name}`;
}

/** A decimal devid libxl can hold, or undefined. */
export function parseDevid(text: string): number | undefined {
  return /^[0-9]{1,10}$/.test(text) && Number(text) <= MAX_DEVID ? Number(text) : undefined;
}

/** How xl's detach names a device of a devid kind. */
export function detachByDevid(which: string): { identity: number } | { invalid: string } {
  const devid = parseDevid(which);
  return devid !== undefined ? { identity: devid } : { invalid: `'${which}' is not a devid (0 to ${MAX_DEVID})` };
}

export function devidOf(entry: DeviceEntry): number {
  const devid = integer(entry, 'devid');
  if (devid < 0) throw new DeviceEntryError('devid', 'not assigned (defaults must be applied first)');
  return devid;
}

export function backendDomidOf(entry: DeviceEntry): number {
  return integer(entry, 'backend_domid', 0);
}

/** libxl__device_add_async's own backend keys, before the kind's. */
export function genericBackend(context: AddContext): KeyValues {
  return [['frontend-id', String(context.domid)], ['online', '1'], ['state', XENBUS_INITIALISING]];
}

/** libxl__device_add_async's own frontend keys, before the kind's. */
export function genericFrontend(entry: DeviceEntry): KeyValues {
  return [['backend-id', String(backendDomidOf(entry))], ['state', XENBUS_INITIALISING]];
}

// ---------------------------------------------------------------------------
// Defaults

export function isUnset(value: unknown): boolean {
  return value === undefined || value === null;
}

/** Sets a defbool left at its default. */
export function defaultDefbool(entry: DeviceEntry, field: string, value: boolean): void {
  if (isUnset(entry[field]) || entry[field] === 'default') entry[field] = value;
}

/** No QEMU behind the kind's backend. */
export const kernelBackend = (): boolean => false;

/**
 * libxl__update_domain_configuration's devids for entries left at -1, for
 * kinds that took libxl__device_nextid one after the other at creation: the
 * devids xenstore lists that no entry names, in ascending order, then one
 * past the highest.
 */
export async function patchOrderedDevids(domain: { domid: number; list(path: string): Promise<string[] | undefined> }, xenstoreKind: string, entries: DeviceEntry[]): Promise<void> {
  const given = new Set(entries.map((entry) => entry.devid as number).filter((devid) => devid >= 0));
  const listed = (await domain.list(`/libxl/${domain.domid}/device/${xenstoreKind}`)) ?? [];
  const free = listed.filter((name) => DEVID_NAME.test(name)).map(Number).filter((devid) => !given.has(devid)).sort((a, b) => a - b);
  let next = Math.max(-1, ...given, ...free) + 1;
  for (const entry of entries) {
    if (entry.devid !== -1) continue;
    entry.devid = free.shift() ?? next++;
  }
}

export const DEVID_NAME = /^(0|[1-9][0-9]{0,9})$/;
