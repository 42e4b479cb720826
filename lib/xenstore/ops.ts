// The requests shared by XenStore and its transactions, written once over
// the native connection: a subclass only says which handle (slot) and which
// transaction id its requests carry, and whether it is still usable.
import { NativeOp, type NativeConnection, type NativeRequests } from '../native.js';
import type { XenStoreNode, XenStoreOps, XenStorePermission } from './types.js';

const PERM_READ = 1;
const PERM_WRITE = 2;

export abstract class StoreOps implements XenStoreOps {
  /** The connection to send requests on; throws when this object is no longer usable. */
  protected abstract connection(): NativeConnection;
  protected abstract readonly slot: number;
  protected abstract readonly tx: number;

  protected requestSync<O extends NativeOp>(op: O, path: NativeRequests[O]['path'], arg?: NativeRequests[O]['arg']): NativeRequests[O]['result'] {
    return this.connection().request(op, this.slot, this.tx, path, arg);
  }

  protected request<O extends NativeOp>(op: O, path: NativeRequests[O]['path'], arg?: NativeRequests[O]['arg']): Promise<NativeRequests[O]['result']> {
    try {
      return this.connection().requestAsync(op, this.slot, this.tx, path, arg);
    } catch (error) {
      return Promise.reject(error);
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

  async readTree(path: string): Promise<XenStoreNode | undefined> {
    return treeFromFlat(await this.request(NativeOp.readTree, path));
  }
  readTreeSync(path: string): XenStoreNode | undefined {
    return treeFromFlat(this.requestSync(NativeOp.readTree, path));
  }
}

function permissionsFromFlat(flat: number[]): XenStorePermission[] {
  const perms: XenStorePermission[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    const bits = flat[i + 1]!;
    perms.push({ domid: flat[i]!, read: (bits & PERM_READ) !== 0, write: (bits & PERM_WRITE) !== 0 });
  }
  return perms;
}

function permissionsToFlat(perms: readonly XenStorePermission[]): number[] {
  if (!Array.isArray(perms) || perms.length === 0) {
    throw Object.assign(new TypeError('The "perms" argument must be a non-empty array (owner first)'), { code: 'ERR_INVALID_ARG_VALUE' });
  }
  const flat: number[] = [];
  for (const perm of perms) {
    if (typeof perm !== 'object' || perm === null) {
      throw Object.assign(new TypeError('Each permission must be { domid, read, write }'), { code: 'ERR_INVALID_ARG_TYPE' });
    }
    flat.push(perm.domid, (perm.read ? PERM_READ : 0) | (perm.write ? PERM_WRITE : 0));
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
