import type { XenStoreNode } from './protocol.js';

export type { XenStoreNode };

export interface XenStorePermission {
  domid: number;
  read: boolean;
  write: boolean;
}

/** One request of a batch. */
export type XenStoreBatchStep =
  | { op: 'read'; path: string }
  | { op: 'list'; path: string }
  | { op: 'write'; path: string; value: string | Buffer }
  | { op: 'mkdir'; path: string }
  | { op: 'rm'; path: string }
  | { op: 'setPermissions'; path: string; perms: readonly XenStorePermission[] };

/** A step's result: a read's value, a list's children (undefined: missing), nothing for the others. */
export type XenStoreBatchResult = string | string[] | undefined;

/** The requests a XenStore and a transaction both offer. Missing nodes read as undefined. */
export interface XenStoreOps {
  read(path: string): Promise<string | undefined>;
  readSync(path: string): string | undefined;
  readBuffer(path: string): Promise<Buffer | undefined>;
  readBufferSync(path: string): Buffer | undefined;
  write(path: string, value: string | Buffer): Promise<void>;
  writeSync(path: string, value: string | Buffer): void;
  list(path: string): Promise<string[] | undefined>;
  listSync(path: string): string[] | undefined;
  mkdir(path: string): Promise<void>;
  mkdirSync(path: string): void;
  rm(path: string): Promise<void>;
  rmSync(path: string): void;
  /** Owner first. A missing node is an ENOENT XenStoreError. */
  getPermissions(path: string): Promise<XenStorePermission[]>;
  getPermissionsSync(path: string): XenStorePermission[];
  setPermissions(path: string, perms: readonly XenStorePermission[]): Promise<void>;
  setPermissionsSync(path: string, perms: readonly XenStorePermission[]): void;
  /** One native call for many keys; undefined where a key is missing. */
  readMany(paths: readonly string[]): Promise<(string | undefined)[]>;
  readManySync(paths: readonly string[]): (string | undefined)[];
  /**
   * Requests in order, in one native call (one trip through the libuv pool,
   * where each request alone takes one): what a transaction's writes need.
   * An rm of a missing node succeeds; any other failure rejects with that
   * step's error, the steps before it done.
   */
  batch(steps: readonly XenStoreBatchStep[]): Promise<XenStoreBatchResult[]>;
  /** A whole subtree in one native call; undefined when the root is missing. */
  readTree(path: string): Promise<XenStoreNode | undefined>;
  readTreeSync(path: string): XenStoreNode | undefined;
}

export interface XenStoreTransaction extends XenStoreOps {
  readonly id: number;
}

export interface XenStoreOpenOptions {
  /** Socket (or xenbus device) of xenstored; default: libxenstore's XENSTORED_PATH / XENSTORED_RUNDIR rules. */
  path?: string;
  /** Handles for concurrent async requests (default 4). */
  poolSize?: number;
  /**
   * readMany, readTree and list outside transactions, and transactions,
   * pipelined on an own connection to the Unix socket (default true);
   * libxenstore where none is reachable.
   */
  pipelined?: boolean;
  /**
   * While watches are set, how often their connection is checked with one
   * request, in ms (default 5000; 0: never). libxenstore notices a connection
   * xenstored closed only at its next request, so without the check a watch
   * whose connection alone was dropped would wait for events that never come.
   */
  watchCheckMs?: number;
}

export interface XenStoreTransactionOptions {
  /** Reruns after the first attempt on EAGAIN (default 16). */
  maxRetries?: number;
  signal?: AbortSignal;
  /**
   * Run on the store's pipelined connection (default true, where the store
   * has one): requests not awaited one by one, and each batch's steps, go
   * out together instead of one round trip each. Its synchronous requests
   * throw ERR_XENSTORE_PIPELINED_SYNC, and a batch's steps after a failed
   * one have run too (a function that catches the failure and returns
   * commits them). false: a libxenstore handle.
   */
  pipelined?: boolean;
}

export interface XenStoreWaitOptions {
  /** Give up after this long: the wait then resolves with reached false. */
  timeoutMs: number;
  /** Aborting rejects the wait with an AbortError. */
  signal?: AbortSignal;
}

/** How a wait ended: reached, with the value that satisfied it (undefined: the node is missing), or timed out. */
export interface XenStoreWaitResult {
  reached: boolean;
  value?: string | undefined;
}

export interface XenStoreWatchOptions {
  signal?: AbortSignal;
  /** Token reported with each event (default: a unique one). */
  token?: string;
}

export interface XenStoreWatchEvent {
  path: string;
  token: string;
}
