// The native addon: loaded once, the file chosen by node-gyp-build from the
// package root (build/Release, else the prebuild for this platform, arch and
// libc). The interfaces below are the only contract between TypeScript and
// native/*.cc. The numbers both sides must agree on (request ordinals, pool
// limit, payload limit, permission bits, error codes) the addon reports when
// it loads, and a report that differs from EXPECTED_CONSTANTS refuses the
// addon, so a stale or foreign build fails at once instead of misbehaving.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { nameErrorClass, XenDomconfigError } from './errors.js';
import { packageRoot } from './util/package-root.js';
import { CLOSED_ERRNO } from './xenstore/errors.js';
import { errnoOf, xsCall, XsType, XS_ERRNO, XS_PERM, XENSTORE_PAYLOAD_MAX } from './xenstore/protocol.js';

/** Request kinds of NativeConnection.request, by the ordinal the addon knows them by. */
export const NativeOp = {
  read: 0,
  readBuffer: 1,
  write: 2,
  directory: 3,
  mkdir: 4,
  rm: 5,
  getPermissions: 6,
  setPermissions: 7,
  readMany: 8,
  readTree: 9,
  getDomainPath: 10,
  isDomainIntroduced: 11,
  transactionStart: 12,
  transactionEnd: 13,
  batch: 14,
} as const;
export type NativeOp = (typeof NativeOp)[keyof typeof NativeOp];

/** A request that sends one kind of message (a batch sends its steps'). */
export type SingleNativeOp = Exclude<NativeOp, typeof NativeOp.batch>;

/** The message each request sends (readMany: a READ per key; readTree: a DIRECTORY and a READ per node). */
const NATIVE_OP_MESSAGE: Record<SingleNativeOp, XsType> = {
  [NativeOp.read]: XsType.READ,
  [NativeOp.readBuffer]: XsType.READ,
  [NativeOp.write]: XsType.WRITE,
  [NativeOp.directory]: XsType.DIRECTORY,
  [NativeOp.mkdir]: XsType.MKDIR,
  [NativeOp.rm]: XsType.RM,
  [NativeOp.getPermissions]: XsType.GET_PERMS,
  [NativeOp.setPermissions]: XsType.SET_PERMS,
  [NativeOp.readMany]: XsType.READ,
  [NativeOp.readTree]: XsType.DIRECTORY,
  [NativeOp.getDomainPath]: XsType.GET_DOMAIN_PATH,
  [NativeOp.isDomainIntroduced]: XsType.IS_DOMAIN_INTRODUCED,
  [NativeOp.transactionStart]: XsType.TRANSACTION_START,
  [NativeOp.transactionEnd]: XsType.TRANSACTION_END,
};

/** The libxenstore call a request makes: the syscall of its errors. */
export function nativeOpCall(op: SingleNativeOp): string {
  return xsCall(NATIVE_OP_MESSAGE[op]);
}

/** Most libxenstore handles one Connection holds. */
export const MAX_POOL_SIZE = 64;

/** The addon's `constants` export: what it was built to, reported once when it loads. */
export interface NativeConstants {
  /** Request name → ordinal. */
  ops: Readonly<Record<string, number>>;
  maxPoolSize: number;
  /** Largest value a write carries (XENSTORE_PAYLOAD_MAX). */
  payloadMax: number;
  /** Bits of getPermissions' and setPermissions' flat lists. */
  permissions: Readonly<Record<string, number>>;
  /** Each error code the addon raises → the errno it raises it with. */
  errors: Readonly<Record<string, number>>;
}

/** What this TypeScript expects of the addon. */
export const EXPECTED_CONSTANTS: NativeConstants = {
  ops: NativeOp,
  maxPoolSize: MAX_POOL_SIZE,
  payloadMax: XENSTORE_PAYLOAD_MAX,
  permissions: XS_PERM,
  errors: { ...XS_ERRNO, ERR_XENSTORE_CLOSED: CLOSED_ERRNO, ERR_DLOPEN_FAILED: errnoOf('ENOENT') },
};

/**
 * Throws a NativeAddonError naming every way `reported` (the addon's
 * `constants`) differs from EXPECTED_CONSTANTS; `file` is the addon's path.
 */
export function checkNativeConstants(reported: unknown, file: string): void {
  const differences: string[] = [];
  compareConstants('constants', EXPECTED_CONSTANTS, reported, differences);
  if (differences.length === 0) return;
  throw addonError(`${file} was built from other sources than this TypeScript (${differences.join('; ')}); ${REBUILD}`);
}

function compareConstants(name: string, expected: unknown, reported: unknown, differences: string[]): void {
  if (typeof expected !== 'object' || expected === null) {
    if (reported !== expected) differences.push(`${name} is ${JSON.stringify(reported) ?? 'missing'}, expected ${JSON.stringify(expected)}`);
    return;
  }
  if (typeof reported !== 'object' || reported === null) {
    differences.push(`${name} is ${reported === undefined ? 'missing' : JSON.stringify(reported)}`);
    return;
  }
  const expectedFields = expected as Record<string, unknown>;
  const reportedFields = reported as Record<string, unknown>;
  for (const key of Object.keys(expectedFields)) compareConstants(`${name}.${key}`, expectedFields[key], reportedFields[key], differences);
  for (const key of Object.keys(reportedFields)) {
    if (!Object.hasOwn(expectedFields, key)) differences.push(`${name}.${key} is unknown here`);
  }
}

/** Any handle of the pool (the least busy one). */
export const ANY_SLOT = -1;

/** What each request takes as `path` and `arg`, and what it returns. */
export interface NativeRequests {
  [NativeOp.read]: { path: string; arg: undefined; result: string | undefined };
  [NativeOp.readBuffer]: { path: string; arg: undefined; result: Buffer | undefined };
  [NativeOp.write]: { path: string; arg: string | Uint8Array; result: undefined };
  [NativeOp.directory]: { path: string; arg: undefined; result: string[] | undefined };
  [NativeOp.mkdir]: { path: string; arg: undefined; result: undefined };
  [NativeOp.rm]: { path: string; arg: undefined; result: undefined };
  /** Result: flat [domid, bits, domid, bits, …], owner first; bits: 1 read, 2 write. */
  [NativeOp.getPermissions]: { path: string; arg: undefined; result: number[] };
  [NativeOp.setPermissions]: { path: string; arg: number[]; result: undefined };
  [NativeOp.readMany]: { path: undefined; arg: readonly string[]; result: (string | undefined)[] };
  /** Result: [name, value, name, value, …] and child counts, both in preorder. */
  [NativeOp.readTree]: { path: string; arg: undefined; result: [string[], Uint32Array] | undefined };
  [NativeOp.getDomainPath]: { path: undefined; arg: number; result: string };
  [NativeOp.isDomainIntroduced]: { path: undefined; arg: number; result: boolean };
  /** Result: [slot, transaction id]; later requests of the transaction pass both. */
  [NativeOp.transactionStart]: { path: undefined; arg: undefined; result: [number, number] };
  /** arg: true to abort instead of commit. */
  [NativeOp.transactionEnd]: { path: undefined; arg: boolean; result: undefined };
  /**
   * arg: flat [op, path, arg, …] of read, write, directory, mkdir, rm and setPermissions
   * steps, run in order in one crossing; an rm of a missing node succeeds. Result: each
   * step's result; the first other failure rejects with that step's error.
   */
  [NativeOp.batch]: { path: undefined; arg: NativeBatchArgs; result: NativeBatchResult[] };
}

export type NativeBatchArgs = Array<SingleNativeOp | string | Uint8Array | number[] | undefined>;
export type NativeBatchResult = string | string[] | undefined;

export interface NativeConnection {
  /** Runs one request on the calling thread. tx 0: no transaction; slot ANY_SLOT: any handle. */
  request<O extends NativeOp>(op: O, slot: number, tx: number, path: NativeRequests[O]['path'], arg?: NativeRequests[O]['arg']): NativeRequests[O]['result'];
  /** Same, on the libuv pool. */
  requestAsync<O extends NativeOp>(op: O, slot: number, tx: number, path: NativeRequests[O]['path'], arg?: NativeRequests[O]['arg']): Promise<NativeRequests[O]['result']>;
  /** Refuses new requests, waits for in-flight ones, closes the handles. */
  close(): Promise<void>;
  readonly poolSize: number;
  readonly closed: boolean;
}

export interface NativeWatcher {
  watch(path: string, token: string): void;
  unwatch(path: string, token: string): void;
  close(): void;
}

/** Watch events as [path, token, path, token, …], or null with an error. */
export type NativeWatchCallback = (events: string[] | null, error?: Error) => void;

export interface NativeAddon {
  Connection: new (path: string | undefined, poolSize: number) => NativeConnection;
  Watcher: new (path: string | undefined, onEvents: NativeWatchCallback) => NativeWatcher;
  /** flock(2); false only when 'ex-nb' would block. */
  flock(fd: number, op: 'ex' | 'ex-nb' | 'un'): boolean;
  /**
   * One attempt of libxl's lock step, in one call: open(O_RDWR|O_CREAT, 0666)
   * unless given the fd of a busy attempt, flock(LOCK_EX|LOCK_NB), and whether
   * path still names the locked inode. 'busy' keeps the fd open for the next
   * attempt; 'replaced' and failures close it. Failures throw like Node's fs
   * errors (code, errno, syscall, path).
   */
  tryLockFile(path: string, fd?: number): { state: 'held' | 'busy'; fd: number } | { state: 'replaced' };
  /** libxl's release: unlink(path) (ENOENT is fine), then close(fd). */
  unlockFile(path: string, fd: number): void;
  /** open(O_RDONLY|O_NOFOLLOW|O_NONBLOCK), read to the end, close; EFBIG past maxBytes. */
  readSmallFile(path: string, maxBytes: number): Buffer;
  /** The class the addon instantiates for every xenstore error. */
  setErrorConstructor(constructor: new (message: string) => Error): void;
  /** Whether libxenstore can be dlopen'd here. */
  libraryStatus(): { loaded: boolean; library?: string; error?: string };
  readonly constants: NativeConstants;
}

let addon: NativeAddon | undefined;

/** What scripts/prebuilds.sh builds, and so what the npm package ships. */
const PREBUILT_FOR = 'linux-x64 and linux-arm64 with glibc';
const REBUILD = 'run `npm rebuild xen-domconfig` with a C++17 compiler, make and python3 installed to build it from source, or use a platform with a prebuilt binary';

/**
 * The addon could not be found or loaded. The message is one line: what
 * failed, on which platform, C library and Node ABI, and what to do.
 */
export class NativeAddonError extends XenDomconfigError {
  declare readonly code: 'ERR_XEN_DOMCONFIG_ADDON';
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_XEN_DOMCONFIG_ADDON', message, options);
  }
}
nameErrorClass(NativeAddonError, 'NativeAddonError');

/**
 * The addon from build/ or prebuilds/ of the package root. XEN_DOMCONFIG_NATIVE
 * names a .node file to load instead (bundlers, sanitizer builds). Throws
 * NativeAddonError.
 */
export function native(): NativeAddon {
  addon ??= loadAddon();
  return addon;
}

function loadAddon(): NativeAddon {
  const override = process.env.XEN_DOMCONFIG_NATIVE;
  let file: string;
  if (override) {
    file = resolve(override);
    if (!existsSync(file)) throw addonError(`XEN_DOMCONFIG_NATIVE names ${file}, which does not exist; unset it or name a built xen_domconfig.node`);
  } else {
    const require = createRequire(import.meta.url);
    const { path } = require('node-gyp-build/node-gyp-build.js') as { path(dir: string): string };
    try {
      file = path(packageRoot());
    } catch (cause) {
      throw addonError(`no prebuilt binary matches (prebuilt: ${PREBUILT_FOR}) and none was built from source; ${REBUILD}`, cause);
    }
  }
  // What require() does for .node files, whatever this file's name ends with.
  const loaded = { exports: {} as NativeAddon };
  try {
    process.dlopen(loaded, file);
  } catch (cause) {
    let why = String((cause as Error)?.message ?? cause).split('\n')[0]!.replace(`${file}: `, '');
    // glibc's words for an ELF file of another machine.
    if (why.startsWith('cannot open shared object file')) why = `${process.arch} cannot load this file: a binary for another machine, or not a shared object`;
    const remedy = override ? 'unset XEN_DOMCONFIG_NATIVE or name a xen_domconfig.node built for this host' : REBUILD;
    throw addonError(`${file} cannot be loaded (${why}); ${remedy}`, cause);
  }
  checkNativeConstants(loaded.exports.constants, file);
  return loaded.exports;
}

function addonError(reason: string, cause?: unknown): NativeAddonError {
  const { platform, arch, versions } = process;
  const node = `Node ${versions.node}, ABI ${versions.modules}, N-API ${versions.napi}`;
  const host = `${platform}-${arch} (${platform === 'linux' ? `${libc()}, ` : ''}${node})`;
  return new NativeAddonError(`xen-domconfig's native addon cannot be loaded on ${host}: ${reason}`, cause === undefined ? undefined : { cause });
}

/** The C library: LIBC where set (node-gyp-build chooses prebuilds by it), else what runs here. */
function libc(): string {
  if (process.env.LIBC) return `LIBC=${process.env.LIBC}`;
  const { header } = process.report.getReport() as { header: { glibcVersionRuntime?: string } };
  return header.glibcVersionRuntime ? `glibc ${header.glibcVersionRuntime}` : 'musl';
}
