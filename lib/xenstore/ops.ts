// The requests shared by XenStore and its transactions, written once over
// the native connection: a subclass only says which handle (slot) and which
// transaction id its requests carry, whether it is still usable, and what a
// failed request means for it. Paths and values are checked here, before
// they cross into the addon.
import { argumentError } from '../errors.js';
import { nativeOpCall, NativeOp, type NativeBatchArgs, type NativeConnection, type NativeRequests, type SingleNativeOp } from '../native.js';
import { refusedRequest, type XenStoreError } from './errors.js';
import { XS_PERM, type XenStoreNode } from './protocol.js';
import type { XenStoreBatchResult, XenStoreBatchStep, XenStoreOps, XenStorePermission } from './types.js';

/** The EINVAL or E2BIG the request meets (as it would once sent), or undefined when it may cross. @internal */
export function invalidRequest(op: NativeOp, path: unknown, arg: unknown): XenStoreError | undefined {
  if (op === NativeOp.batch) {
    if (!Array.isArray(arg)) return undefined; // the addon's type error
    for (let i = 0; i + 2 < arg.length; i += 3) {
      const refused = invalidRequest(arg[i] as SingleNativeOp, arg[i + 1], arg[i + 2]);
      if (refused) return refused;
    }
    return undefined;
  }
  if (op === NativeOp.readMany) {
    if (!Array.isArray(arg)) return undefined; // the addon's type error
    for (const item of arg) {
      const refused = typeof item === 'string' ? refusedRequest(nativeOpCall(op), item) : undefined;
      if (refused) return refused;
    }
    return undefined;
  }
  if (typeof path !== 'string') return undefined; // no path, or the addon's type error
  let bytes = 0;
  if (op === NativeOp.write && (typeof arg === 'string' || arg instanceof Uint8Array)) {
    bytes = typeof arg === 'string' ? Buffer.byteLength(arg) : arg.byteLength;
  }
  return refusedRequest(nativeOpCall(op), path, bytes);
}

export abstract class StoreOps implements XenStoreOps {
  /** The connection to send requests on; throws when this object is no longer usable. @internal */
  protected abstract connection(): NativeConnection;
  /** @internal */
  protected abstract readonly slot: number;
  /** @internal */
  protected abstract readonly tx: number;

  /** The error a failed request raises; a subclass may also act on it (a lost connection). @internal */
  protected failed(error: unknown, _connection: NativeConnection): unknown {
    return error;
  }

  /** @internal */
  protected requestSync<O extends NativeOp>(op: O, path: NativeRequests[O]['path'], arg?: NativeRequests[O]['arg']): NativeRequests[O]['result'] {
    const invalid = invalidRequest(op, path, arg);
    if (invalid) throw invalid;
    const connection = this.connection();
    try {
      return connection.request(op, this.slot, this.tx, path, arg);
    } catch (error) {
      throw this.failed(error, connection);
    }
  }

  /** @internal */
  protected request<O extends NativeOp>(op: O, path: NativeRequests[O]['path'], arg?: NativeRequests[O]['arg']): Promise<NativeRequests[O]['result']> {
    const invalid = invalidRequest(op, path, arg);
    if (invalid) return Promise.reject(invalid);
    let connection: NativeConnection;
    try {
      connection = this.connection();
    } catch (error) {
      return Promise.reject(error);
    }
    try {
      return connection.requestAsync(op, this.slot, this.tx, path, arg).catch((error: unknown) => { throw this.failed(error, connection); });
    } catch (error) {
      return Promise.reject(this.failed(error, connection));
    }
  }

  read(path: string): Promise<string | undefined> { return this.request(NativeOp.read, path); }
  readSync(path: string): string | undefined { return this.requestSync(NativeOp.read, path); }
  readBuffer(path: string): Promise<Buffer | undefined> { return this.request(NativeOp.readBuffer, path); }
  readBufferSync(path: string): Buffer | undefined { return this.requestSync(NativeOp.readBuffer, path); }
  write(path: string, value: string | Buffer): Promise<void> { return this.request(NativeOp.write, path, value); }
  writeSync(path: string, value: string | Buffer): void { this.requestSync(NativeOp.write, path, value); }
  list(path: string): Promise<string[] | undefined> { return this.request(NativeOp.directory, path); }
  listSync(path: string): string[] | undefined { return this.requestSync(NativeOp.directory, path); }
  mkdir(path: string): Promise<void> { return this.request(NativeOp.mkdir, path); }
  mkdirSync(path: string): void { this.requestSync(NativeOp.mkdir, path); }
  rm(path: string): Promise<void> { return this.request(NativeOp.rm, path); }
  rmSync(path: string): void { this.requestSync(NativeOp.rm, path); }

  async getPermissions(path: string): Promise<XenStorePermission[]> {
    return permissionsFromFlat(await this.request(NativeOp.getPermissions, path));
  }
  getPermissionsSync(path: string): XenStorePermission[] {
    return permissionsFromFlat(this.requestSync(NativeOp.getPermissions, path));
  }
  setPermissions(path: string, perms: readonly XenStorePermission[]): Promise<void> {
    try {
      return this.request(NativeOp.setPermissions, path, permissionsToFlat(perms));
    } catch (error) {
      return Promise.reject(error);
    }
  }
  setPermissionsSync(path: string, perms: readonly XenStorePermission[]): void {
    this.requestSync(NativeOp.setPermissions, path, permissionsToFlat(perms));
  }

  readMany(paths: readonly string[]): Promise<(string | undefined)[]> { return this.request(NativeOp.readMany, undefined, paths); }
  readManySync(paths: readonly string[]): (string | undefined)[] { return this.requestSync(NativeOp.readMany, undefined, paths); }

  batch(steps: readonly XenStoreBatchStep[]): Promise<XenStoreBatchResult[]> {
    let flat: NativeBatchArgs;
    try {
      flat = batchToFlat(steps);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.request(NativeOp.batch, undefined, flat);
  }

  async readTree(path: string): Promise<XenStoreNode | undefined> {
    return treeFromFlat(await this.request(NativeOp.readTree, path));
  }
  readTreeSync(path: string): XenStoreNode | undefined {
    return treeFromFlat(this.requestSync(NativeOp.readTree, path));
  }
}

const BATCH_OPS: Record<XenStoreBatchStep['op'], SingleNativeOp> = {
  read: NativeOp.read,
  list: NativeOp.directory,
  write: NativeOp.write,
  mkdir: NativeOp.mkdir,
  rm: NativeOp.rm,
  setPermissions: NativeOp.setPermissions,
};

/** @internal */
export function batchToFlat(steps: readonly XenStoreBatchStep[]): NativeBatchArgs {
  if (!Array.isArray(steps)) {
    throw argumentError('ERR_INVALID_ARG_TYPE', 'The "steps" argument must be an array');
  }
  const flat: NativeBatchArgs = [];
  for (const step of steps) {
    const name: unknown = typeof step === 'object' && step !== null ? step.op : undefined;
    const op = typeof name === 'string' && Object.hasOwn(BATCH_OPS, name) ? BATCH_OPS[name as XenStoreBatchStep['op']] : undefined;
    if (op === undefined) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `Each step must be { op, path } with op one of ${Object.keys(BATCH_OPS).join(', ')}`);
    }
    const arg = step.op === 'write' ? step.value : step.op === 'setPermissions' ? permissionsToFlat(step.perms) : undefined;
    flat.push(op, step.path, arg);
  }
  return flat;
}

/** @internal */
export function permissionsFromFlat(flat: number[]): XenStorePermission[] {
  const perms: XenStorePermission[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const bits = flat[i + 1]!;
    perms.push({ domid: flat[i]!, read: (bits & XS_PERM.read) !== 0, write: (bits & XS_PERM.write) !== 0 });
  }
  return perms;
}

/** @internal */
export function permissionsToFlat(perms: readonly XenStorePermission[]): number[] {
  if (!Array.isArray(perms) || perms.length === 0) {
    throw argumentError('ERR_INVALID_ARG_VALUE', 'The "perms" argument must be a non-empty array (owner first)');
  }
  const flat: number[] = [];
  for (const perm of perms) {
    if (typeof perm !== 'object' || perm === null) {
      throw argumentError('ERR_INVALID_ARG_TYPE', 'Each permission must be { domid, read, write }');
    }
    flat.push(perm.domid, (perm.read ? XS_PERM.read : 0) | (perm.write ? XS_PERM.write : 0));
  }
  return flat;
}

/** Rebuilds the nested nodes from the preorder [name, value, …] list and child counts. */
function treeFromFlat(flat: [string[], Uint32Array] | undefined): XenStoreNode | undefined {
  if (!flat) return undefined;
  const [strings, counts] = flat;
  const root: XenStoreNode = { name: strings[0]!, value: strings[1]!, children: [] };
  const open: { node: XenStoreNode; remaining: number }[] = [{ node: root, remaining: counts[0]! }];
  for (let i = 1; i < counts.length; i++) {
    while (open[open.length - 1]!.remaining === 0) open.pop();
    const parent = open[open.length - 1]!;
    const node: XenStoreNode = { name: strings[2 * i]!, value: strings[2 * i + 1]!, children: [] };
    parent.node.children.push(node);
    parent.remaining--;
    if (counts[i]! > 0) open.push({ node, remaining: counts[i]! });
  }
  return root;
}
