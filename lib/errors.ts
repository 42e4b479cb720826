// The one error model of every layer: XenDomconfigError with a `code` from
// ErrorCode, and ERROR_CODES, the table of what each code means and the
// command's exit status for it. A code means the same thing wherever it is
// raised; the classes below it (XenStoreError, TemplateError, HotplugError…)
// only add the details of their layer.
import type { constants } from 'node:os';

/** The command's exit statuses. */
export const EXIT = {
  OK: 0,
  /** The operation failed, or some of the requested domains could not be handled. */
  FAILED: 1,
  /** Bad command line: unknown option or command, missing or malformed argument, bad device spec. */
  USAGE: 2,
  /** No xenstored could be reached, or it went away, or nothing to reach it with (the native addon, the demo's daemon). */
  NO_XENSTORED: 3,
  /** An unknown domain, a domain without a template, or an unknown device. */
  NOT_FOUND: 4,
  /** A template or configuration file that is not a valid domain configuration. */
  CORRUPT: 5,
  /** Permission denied (xenstore or the userdata folder). */
  PERMISSION: 6,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

interface CodeEntry {
  /** The command's exit status for an error with this code. */
  exit: ExitCode;
  /** What the code means: the README's table has these words (Markdown). */
  meaning: string;
}

/**
 * Every code the library raises on its own, and the system codes (errno
 * names) that lead to an exit status other than 1. The README's table of
 * error codes is checked against this one (test/errors/errors.test.ts).
 */
export const ERROR_CODES = {
  // Arguments and input, refused before anything changed
  EINVAL: { exit: EXIT.USAGE, meaning: 'invalid argument: an option, device field, device specification or template refused before anything changed (xenstored: not a valid path)' },
  EBADDOMID: { exit: EXIT.USAGE, meaning: 'not a domain id: an integer from 0 to 32751 (from 1 for a guest\'s devices)' },
  EBADUUID: { exit: EXIT.USAGE, meaning: 'not a lowercase 8-4-4-4-12 uuid (also a hostile `/local/domain/<domid>/vm`)' },
  // Not found
  ENODOMAIN: { exit: EXIT.NOT_FOUND, meaning: 'the domain does not exist (any more), or libxl did not build it' },
  ENOTEMPLATE: { exit: EXIT.NOT_FOUND, meaning: 'the domain has no template file' },
  ENODEV: { exit: EXIT.NOT_FOUND, meaning: 'no such device: not in `/libxl/<domid>/device`, or no such usb device on the host' },
  ENOENT: { exit: EXIT.NOT_FOUND, meaning: 'no such file, folder or xenstore node' },
  ENXIO: { exit: EXIT.NOT_FOUND, meaning: 'no such device or address (a file that is a socket)' },
  ESRCH: { exit: EXIT.NOT_FOUND, meaning: 'no such process' },
  // Corrupt
  ECORRUPT: { exit: EXIT.CORRUPT, meaning: 'a template that is empty, too large, not UTF-8 text or not a domain configuration' },
  ERR_CONFIG: { exit: EXIT.CORRUPT, meaning: 'libxl-json that is not a `libxl_domain_config` (or part of one); `ConfigError` names the JSON path' },
  // Permission
  EACCES: { exit: EXIT.PERMISSION, meaning: 'permission denied (xenstore node, socket, userdata folder or file)' },
  EPERM: { exit: EXIT.PERMISSION, meaning: 'operation not permitted' },
  EROFS: { exit: EXIT.PERMISSION, meaning: 'read-only file system (the userdata folder)' },
  // xenstored, and what reaches it
  ERR_XENSTORE_UNAVAILABLE: { exit: EXIT.NO_XENSTORED, meaning: '`XenStore.open` reached no xenstored (its `cause` says why; exit 6 when that is `EACCES`)' },
  ERR_XENSTORE_CONNECTION_LOST: { exit: EXIT.NO_XENSTORED, meaning: 'xenstored went away during a request (the next request reconnects)' },
  ERR_DLOPEN_FAILED: { exit: EXIT.NO_XENSTORED, meaning: 'libxenstore could not be loaded (the `cause` of `ERR_XENSTORE_UNAVAILABLE`)' },
  ERR_XEN_DOMCONFIG_ADDON: { exit: EXIT.NO_XENSTORED, meaning: 'the native addon cannot be loaded on this host' },
  ERR_LOCAL_XENSTORED_MISSING: { exit: EXIT.NO_XENSTORED, meaning: 'the private xenstored of the demo and tests, or its fake hypervisor, is not there (outside a source checkout)' },
  ERR_LOCAL_XENSTORED_FAILED: { exit: EXIT.FAILED, meaning: 'the private xenstored exited or did not listen in time' },
  ERR_XENSTORE_NO_SOCKET: { exit: EXIT.FAILED, meaning: 'the pipelined client found no xenstored socket (reads fall back to libxenstore)' },
  ERR_XENSTORE_PROTOCOL: { exit: EXIT.FAILED, meaning: 'xenstored sent something that is not a reply (the connection is closed)' },
  ERR_XENSTORE_CLOSED: { exit: EXIT.FAILED, meaning: 'a request on a closed `XenStore` or connection' },
  ERR_XENSTORE_TRANSACTION_ENDED: { exit: EXIT.FAILED, meaning: 'a request on a transaction that has ended' },
  ERR_XENSTORE_PIPELINED_SYNC: { exit: EXIT.FAILED, meaning: 'a synchronous request in a pipelined transaction (pass `pipelined: false` to `transaction` for one that takes them)' },
  ERR_XENSTORE_WATCH_BUSY: { exit: EXIT.FAILED, meaning: '`next()` on a watch while a previous `next()` is pending' },
  EAGAIN: { exit: EXIT.FAILED, meaning: 'a transaction still conflicting after its retries' },
  E2BIG: { exit: EXIT.FAILED, meaning: 'a xenstore request larger than its 4096-byte payload' },
  // Domains and devices
  EXSVALUE: { exit: EXIT.FAILED, meaning: 'a toolstack-owned xenstore node is missing or malformed (the error names it)' },
  ENOUUID: { exit: EXIT.FAILED, meaning: 'the domain has no `/local/domain/<domid>/vm` (dom0): pass its uuid' },
  ELOCKTIMEOUT: { exit: EXIT.FAILED, meaning: 'the domain-userdata lock was not acquired in time' },
  EEXIST: { exit: EXIT.FAILED, meaning: 'the device already exists' },
  EBUSY: { exit: EXIT.FAILED, meaning: 'a usb device or controller port is taken' },
  ETIMEDOUT: { exit: EXIT.FAILED, meaning: 'a backend did not reach the state waited for, or QEMU did not answer, in time' },
  EHOTPLUG: { exit: EXIT.FAILED, meaning: 'a backend or its hotplug script reported failure' },
  EQMP: { exit: EXIT.FAILED, meaning: 'QEMU\'s QMP socket could not be used, or QEMU refused the command' },
  EIO: { exit: EXIT.FAILED, meaning: 'input/output error (xenstored\'s, or a sysfs write of a usb device\'s binding)' },
  ENOTDIR: { exit: EXIT.FAILED, meaning: 'the userdata folder is not a folder' },
  ERR_MIRROR_CLOSED: { exit: EXIT.FAILED, meaning: 'the mirror was closed before it was ready' },
  ERR_MIRROR_FOLDER_CHANGED: { exit: EXIT.FAILED, meaning: 'the userdata folder was replaced under the mirror\'s watch (or its events overflowed): the mirror is stale until it reads again' },
  ERR_DEMO_STEP: { exit: EXIT.FAILED, meaning: 'a step of the demo failed (its exit status and stderr are in the message)' },
  ABORT_ERR: { exit: EXIT.FAILED, meaning: 'the caller\'s `AbortSignal` ended the operation (`AbortError`, Node\'s shape: its `cause` is the signal\'s reason)' },
  // A program's mistakes, raised as Node's own APIs raise them: a TypeError or RangeError, not a XenDomconfigError
  ERR_INVALID_ARG_TYPE: { exit: EXIT.FAILED, meaning: 'an argument of the wrong type (a `TypeError`, as Node raises it)' },
  ERR_INVALID_ARG_VALUE: { exit: EXIT.FAILED, meaning: 'an argument of the right type with a value no call accepts, such as an unknown device kind (a `TypeError`)' },
  ERR_OUT_OF_RANGE: { exit: EXIT.FAILED, meaning: 'a number option out of its range (a `RangeError`, as Node raises it)' },
} as const satisfies Record<string, CodeEntry>;

/** A code of ERROR_CODES. */
export type LibraryErrorCode = keyof typeof ERROR_CODES;
/** The errno name of a failed system call or of xenstored's answer ('ENOSPC', 'ENAMETOOLONG', …): errno(3)'s meaning, exit 1 unless ERROR_CODES lists it. */
export type SystemErrorCode = keyof typeof constants.errno;
/** Every `code` a XenDomconfigError can have. */
export type ErrorCode = LibraryErrorCode | SystemErrorCode;

export interface ErrorDetails {
  /** The domain the error is about. */
  domid?: number;
  /** The xenstore node or file the error is about. */
  path?: string;
  cause?: unknown;
}

/** The fields of an error where a system call failed, as Node's system errors have them. */
export interface SystemErrorDetails extends ErrorDetails {
  /** As the failed call reported it: positive from libxenstore (as libc sets it), negative from Node's fs (as Node's errors have it). */
  errno?: number;
  syscall?: string;
}

/**
 * The base of every error the library raises on purpose: `code` from
 * ErrorCode, and `domid`, `path` and `cause` where they apply (a field that
 * does not apply is absent, not undefined). Only a program's own mistakes
 * (ERR_INVALID_ARG_TYPE, ERR_INVALID_ARG_VALUE, ERR_OUT_OF_RANGE) are Node's
 * TypeError and RangeError instead, as Node's APIs raise them.
 */
export class XenDomconfigError extends Error {
  declare readonly code: ErrorCode;
  declare readonly domid?: number;
  declare readonly path?: string;

  constructor(code: ErrorCode | undefined, message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    // Fields are assigned, not declared with initialisers: an absent one stays
    // absent, and the addon can still set a XenStoreError's fields after construction.
    const fields = this as { code?: ErrorCode; domid?: number; path?: string };
    if (code !== undefined) fields.code = code;
    if (details.domid !== undefined) fields.domid = details.domid;
    if (details.path !== undefined) fields.path = details.path;
  }
}

/** Sets the `name` of an error class on its prototype, where Node's errors have it (not an own enumerable field). */
export function nameErrorClass(constructor: abstract new (...args: never[]) => Error, name: string): void {
  Object.defineProperty(constructor.prototype, 'name', { value: name, enumerable: false, configurable: true, writable: true });
}
nameErrorClass(XenDomconfigError, 'XenDomconfigError');

/** Whether `code` is one of ERROR_CODES. */
export function isLibraryErrorCode(code: unknown): code is LibraryErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

/** The command's exit status for a code: ERROR_CODES' entry, else 1. */
export function exitStatusOf(code: unknown): ExitCode {
  return isLibraryErrorCode(code) ? ERROR_CODES[code].exit : EXIT.FAILED;
}

/** A program's mistake, as Node's APIs raise it: a TypeError with Node's code. */
export function argumentError(code: 'ERR_INVALID_ARG_TYPE' | 'ERR_INVALID_ARG_VALUE', message: string): TypeError & { code: LibraryErrorCode } {
  return Object.assign(new TypeError(message), { code });
}

/** A number outside its range, as Node's APIs raise it: a RangeError with code ERR_OUT_OF_RANGE. */
export function rangeError(message: string): RangeError & { code: LibraryErrorCode } {
  return Object.assign(new RangeError(message), { code: 'ERR_OUT_OF_RANGE' as const });
}
