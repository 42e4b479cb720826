// A transaction on a pipelined wire connection: its requests go out without
// waiting for each other's replies, so a batch of writes costs about one
// round trip instead of one per request (libxenstore's). xenstored sees the
// same requests in the same order as through libxenstore, and a failure
// raises the same XenStoreError. What differs: synchronous requests cannot
// wait on a socket, and a batch's later steps are already sent, and run, when
// an earlier one fails (a transaction function that catches the failure and
// returns commits them).
import { NativeOp } from '../native.js';
import { isXenStoreError, transactionEndedError, xenStoreError } from './errors.js';
import { batchToFlat, invalidRequest, permissionsFromFlat, permissionsToFlat } from './ops.js';
import type { XenStoreNode } from './protocol.js';
import type { XenStoreBatchResult, XenStoreBatchStep, XenStorePermission, XenStoreTransaction } from './types.js';
import type { XenStoreWireClient } from './wire-client.js';

const MAX_DOMID = 0xffff;

export interface WireTransactionHooks {
  /** Called with each request sent: the store's close() waits for them. */
  track<T>(request: Promise<T>): Promise<T>;
  /** Called once, when the transaction has ended (committed, aborted or failed). */
  ended(): void;
}

type StepOp = (typeof NativeOp)['read' | 'directory' | 'write' | 'mkdir' | 'rm' | 'setPermissions'];

export class WireTransaction implements XenStoreTransaction {
  private ended = false;

  constructor(private readonly wire: XenStoreWireClient, readonly id: number, private readonly hooks: WireTransactionHooks) {}

  read(path: string): Promise<string | undefined> {
    return this.one(NativeOp.read, path) as Promise<string | undefined>;
  }
  readBuffer(path: string): Promise<Buffer | undefined> {
    return this.checked(NativeOp.readBuffer, path, undefined, () => this.wire.readManyBuffers([path], this.id).then((values) => values[0]));
  }
  write(path: string, value: string | Buffer): Promise<void> {
    return this.one(NativeOp.write, path, value) as Promise<void>;
  }
  list(path: string): Promise<string[] | undefined> {
    return this.one(NativeOp.directory, path) as Promise<string[] | undefined>;
  }
  mkdir(path: string): Promise<void> {
    return this.one(NativeOp.mkdir, path) as Promise<void>;
  }
  rm(path: string): Promise<void> {
    return this.checked(NativeOp.rm, path, undefined, () => this.wire.rm(path, this.id));
  }
  async getPermissions(path: string): Promise<XenStorePermission[]> {
    return permissionsFromFlat(await this.checked(NativeOp.getPermissions, path, undefined, () => this.wire.getPermissionPairs(path, this.id)));
  }
  setPermissions(path: string, perms: readonly XenStorePermission[]): Promise<void> {
    return this.checked(NativeOp.setPermissions, path, undefined, () => this.send(NativeOp.setPermissions, path, permissionsToFlat(perms))) as Promise<void>;
  }
  readMany(paths: readonly string[]): Promise<(string | undefined)[]> {
    return this.checked(NativeOp.readMany, undefined, paths, () => {
      if (!Array.isArray(paths) || !paths.every((path) => typeof path === 'string')) throw typeError('The "paths" argument must be an array of strings');
      return this.wire.readMany(paths, this.id);
    });
  }
  readTree(path: string): Promise<XenStoreNode | undefined> {
    return this.checked(NativeOp.readTree, path, undefined, () => this.wire.readTree(path, this.id).catch(undefinedIfMissing));
  }

  /** Every step sent at once; rejects with the first failing step's error, in step order (the steps after it have run too). */
  async batch(steps: readonly XenStoreBatchStep[]): Promise<XenStoreBatchResult[]> {
    const outcomes = await this.checked(NativeOp.batch, undefined, undefined, () => {
      const flat = batchToFlat(steps);
      const refused = invalidRequest(NativeOp.batch, undefined, flat);
      if (refused) throw refused;
      const sent: Promise<XenStoreBatchResult | void>[] = [];
      for (let i = 0; i < flat.length; i += 3) {
        sent.push(this.send(flat[i] as StepOp, flat[i + 1] as string, flat[i + 2], true));
      }
      return Promise.allSettled(sent);
    });
    const results: XenStoreBatchResult[] = [];
    for (const outcome of outcomes) {
      if (outcome.status === 'rejected') throw outcome.reason;
      results.push(outcome.value as XenStoreBatchResult); // void steps give undefined
    }
    return results;
  }

  /** Commits, or aborts with abort = true. Later requests throw. */
  async end(abort: boolean): Promise<void> {
    if (this.ended) throw transactionEndedError(this.id);
    this.ended = true;
    try {
      await this.hooks.track(this.wire.transactionEnd(this.id, !abort));
    } finally {
      this.hooks.ended();
    }
  }

  readSync(): never { return syncUnavailable(); }
  readBufferSync(): never { return syncUnavailable(); }
  writeSync(): never { return syncUnavailable(); }
  listSync(): never { return syncUnavailable(); }
  mkdirSync(): never { return syncUnavailable(); }
  rmSync(): never { return syncUnavailable(); }
  getPermissionsSync(): never { return syncUnavailable(); }
  setPermissionsSync(): never { return syncUnavailable(); }
  readManySync(): never { return syncUnavailable(); }
  readTreeSync(): never { return syncUnavailable(); }

  private one(op: StepOp, path: string, arg?: unknown): Promise<XenStoreBatchResult | void> {
    return this.checked(op, path, arg, () => this.send(op, path, arg));
  }

  /** Runs send after the checks StoreOps makes before the addon, so both transports refuse alike. */
  private checked<T>(op: NativeOp, path: unknown, arg: unknown, send: () => Promise<T>): Promise<T> {
    try {
      if (this.ended) throw transactionEndedError(this.id);
      const refused = invalidRequest(op, path, arg);
      if (refused) throw refused;
      if (op !== NativeOp.batch && op !== NativeOp.readMany && typeof path !== 'string') throw typeError('The "path" argument must be a string');
      return this.hooks.track(send());
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** One request of a single op or batch step (a batch's rm of a missing node succeeds, as the addon's). */
  private send(op: StepOp, path: string, arg: unknown, inBatch = false): Promise<XenStoreBatchResult | void> {
    switch (op) {
      case NativeOp.read: return this.wire.readMany([path], this.id).then((values) => values[0]);
      case NativeOp.directory: return this.wire.directory(path, this.id).catch(undefinedIfMissing);
      case NativeOp.write: return this.wire.write(path, checkedValue(arg), this.id);
      case NativeOp.mkdir: return this.wire.mkdir(path, this.id);
      case NativeOp.rm: return inBatch ? this.wire.rm(path, this.id).catch(undefinedIfMissing) : this.wire.rm(path, this.id);
      case NativeOp.setPermissions: return this.wire.setPermissionPairs(path, checkedPermissionPairs(arg), this.id);
    }
  }
}

function checkedValue(value: unknown): string | Buffer {
  if (typeof value === 'string' || Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  throw typeError('The "value" argument must be a string or a Buffer');
}

/** The addon's checks of [domid, bits] pairs. */
function checkedPermissionPairs(flat: unknown): number[] {
  if (!Array.isArray(flat)) throw typeError('The "perms" argument must be an array');
  for (let i = 0; i < flat.length; i++) {
    const value: unknown = flat[i];
    const max = i % 2 === 0 ? MAX_DOMID : 3;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > max) {
      throw Object.assign(new TypeError(`The "${i % 2 === 0 ? 'domid' : 'bits'}" argument must be an integer from 0 to ${max}`), { code: 'ERR_OUT_OF_RANGE' });
    }
  }
  return flat as number[];
}

function typeError(message: string): TypeError {
  return Object.assign(new TypeError(message), { code: 'ERR_INVALID_ARG_TYPE' });
}

function syncUnavailable(): never {
  throw xenStoreError('ERR_XENSTORE_PIPELINED_SYNC', 'xs_request', undefined, {
    reason: 'a pipelined transaction has no synchronous requests; pass { pipelined: false } to transaction() for them',
    errno: 0,
  });
}

/** ENOENT of a listing, a subtree read or a batch's rm: the node is missing. */
function undefinedIfMissing(error: unknown): undefined {
  if (isXenStoreError(error, 'ENOENT')) return undefined;
  throw error;
}

