// The xenstore protocol as both transports speak it: the libxenstore addon
// (lib/native.ts, native/*.cc) and the pipelined wire client (wire.ts).
// Message types, errors and limits are those of xen/io/xs_wire.h (Xen 4.17);
// the path and socket rules are xenstored's and libxenstore's. The addon
// reports its own copies of the shared numbers when it loads, and
// lib/native.ts refuses one that disagrees with this file.
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { join } from 'node:path';

/** Message types (enum xsd_sockmsg_type); 20 was XS_RESTRICT, since removed. */
export const XsType = {
  CONTROL: 0,
  DIRECTORY: 1,
  READ: 2,
  GET_PERMS: 3,
  WATCH: 4,
  UNWATCH: 5,
  TRANSACTION_START: 6,
  TRANSACTION_END: 7,
  INTRODUCE: 8,
  RELEASE: 9,
  GET_DOMAIN_PATH: 10,
  WRITE: 11,
  MKDIR: 12,
  RM: 13,
  SET_PERMS: 14,
  WATCH_EVENT: 15,
  ERROR: 16,
  IS_DOMAIN_INTRODUCED: 17,
  RESUME: 18,
  SET_TARGET: 19,
  RESET_WATCHES: 21,
  DIRECTORY_PART: 22,
} as const;
export type XsType = (typeof XsType)[keyof typeof XsType];

/** The libxenstore call that sends each request type: the `syscall` of its errors. */
const XS_CALL: Partial<Record<XsType, string>> = {
  [XsType.DIRECTORY]: 'xs_directory',
  [XsType.DIRECTORY_PART]: 'xs_directory', // xs_directory's fallback for long lists
  [XsType.READ]: 'xs_read',
  [XsType.GET_PERMS]: 'xs_get_permissions',
  [XsType.WATCH]: 'xs_watch',
  [XsType.UNWATCH]: 'xs_unwatch',
  [XsType.TRANSACTION_START]: 'xs_transaction_start',
  [XsType.TRANSACTION_END]: 'xs_transaction_end',
  [XsType.GET_DOMAIN_PATH]: 'xs_get_domain_path',
  [XsType.WRITE]: 'xs_write',
  [XsType.MKDIR]: 'xs_mkdir',
  [XsType.RM]: 'xs_rm',
  [XsType.SET_PERMS]: 'xs_set_permissions',
  [XsType.IS_DOMAIN_INTRODUCED]: 'xs_is_domain_introduced',
};

/** The syscall named by errors of a request type. */
export function xsCall(type: XsType): string {
  return XS_CALL[type] ?? 'xs_talkv';
}

/**
 * The errors xenstored sends, by name (xsd_errors). libxenstore turns a name
 * into the host's errno of that name, and anything else into EINVAL; so do
 * the wire client and XS_ERRNO below.
 */
const XSD_ERRORS = [
  'EINVAL', 'EACCES', 'EEXIST', 'EISDIR', 'ENOENT', 'ENOMEM', 'ENOSPC', 'EIO',
  'ENOTEMPTY', 'ENOSYS', 'EROFS', 'EBUSY', 'EAGAIN', 'EISCONN', 'E2BIG', 'EPERM',
] as const;
export type XsErrorName = (typeof XSD_ERRORS)[number];

const HOST_ERRNO = osConstants.errno as Record<string, number>;

/** Each error name xenstored sends, with the host's errno for it. */
export const XS_ERRNO: Readonly<Record<XsErrorName, number>> = Object.fromEntries(
  XSD_ERRORS.map((name) => [name, HOST_ERRNO[name]!]),
) as Record<XsErrorName, number>;

/** The code of an XS_ERROR reply's name, as libxenstore's get_error reads it. */
export function xsErrorCode(name: string): XsErrorName {
  return Object.hasOwn(XS_ERRNO, name) ? (name as XsErrorName) : 'EINVAL';
}

/** The host's errno of a code (an errno name), 0 when it has none. */
export function errnoOf(code: string): number {
  return HOST_ERRNO[code] ?? 0;
}

/** Largest payload of a request (libxenstore refuses a longer one with E2BIG; xenstored drops the connection). */
export const XENSTORE_PAYLOAD_MAX = 4096;
/** Longest absolute path xenstored accepts. */
export const XENSTORE_ABS_PATH_MAX = 3072;

/** Permission bits of a node's ACL entries (XS_PERM_READ, XS_PERM_WRITE). */
export const XS_PERM = { read: 1, write: 2 } as const;

/** A node of a subtree read: its own name (the last path component), value and children. */
export interface XenStoreNode {
  name: string;
  value: string;
  children: XenStoreNode[];
}

// xenstored would also take a path without the leading `/`, relative to the
// caller's /local/domain/<domid>; this library names every node absolutely
// and refuses relative paths with EINVAL, so a request never depends on which
// domain the connection belongs to.
const PATH_SYNTAX = /^\/(?:[A-Za-z0-9_@-]+(?:\/[A-Za-z0-9_@-]+)*)?$/;
/** Watches may also name a special path: @introduceDomain, @releaseDomain. */
const SPECIAL_PATH = /^@[A-Za-z0-9_@-]+$/;

/** xenstored's rules for an absolute path: charset, no `//`, no trailing `/`, ≤ 3072 bytes. */
export function isValidXenStorePath(path: string): boolean {
  return typeof path === 'string' && path.length <= XENSTORE_ABS_PATH_MAX && PATH_SYNTAX.test(path);
}

/**
 * Why a request on `path` carrying `bodyLength` more bytes is refused before
 * it is sent, as it would be once sent: E2BIG for a path libxenstore cannot
 * fit in one payload, EINVAL for a path xenstored refuses, E2BIG for a
 * request beyond the payload limit. Undefined: it may be sent. `pathChecked`:
 * the caller knows isValidXenStorePath accepts it.
 */
export function refusal(path: string, bodyLength = 0, pathChecked = false): 'EINVAL' | 'E2BIG' | undefined {
  if (!pathChecked) {
    if (path.length >= XENSTORE_PAYLOAD_MAX) return 'E2BIG';
    if (!isValidXenStorePath(path)) return 'EINVAL';
  }
  if (path.length + 1 + bodyLength > XENSTORE_PAYLOAD_MAX) return 'E2BIG';
  return undefined;
}

/** A path xs_watch accepts: an absolute path or a special one. */
export function isValidWatchPath(path: string): boolean {
  return isValidXenStorePath(path) || (typeof path === 'string' && path.length <= XENSTORE_ABS_PATH_MAX && SPECIAL_PATH.test(path));
}

/** xs_path_is_subpath: whether a watch on `watched` fires for `path` (itself or anything below it). */
export function isSubpath(watched: string, path: string): boolean {
  return path === watched || (path.startsWith(watched) && (watched.endsWith('/') || path[watched.length] === '/'));
}

const DEFAULT_RUNDIR = '/var/run/xenstored';

/** The variables libxenstore's socket rules read. */
export interface XenstoredEnv {
  XENSTORED_PATH?: string | undefined;
  XENSTORED_RUNDIR?: string | undefined;
}

function processEnv(): XenstoredEnv {
  return { XENSTORED_PATH: process.env.XENSTORED_PATH, XENSTORED_RUNDIR: process.env.XENSTORED_RUNDIR };
}

/** The socket libxenstore tries first: $XENSTORED_PATH, else ${XENSTORED_RUNDIR:-/var/run/xenstored}/socket. */
export function xenstoredSocketPath(env: XenstoredEnv = processEnv()): string {
  return env.XENSTORED_PATH ?? join(env.XENSTORED_RUNDIR ?? DEFAULT_RUNDIR, 'socket');
}

/**
 * Where xs_open looks, in order: the given path; else $XENSTORED_PATH alone
 * (libxenstore tries it as the socket and as the device); else the socket,
 * then the kernel's xenbus device (/dev/xen/xenbus, or /proc/xen/xenbus on
 * kernels without it).
 */
export function xenstoreCandidates(path: string | undefined, env: XenstoredEnv = processEnv()): string[] {
  if (path !== undefined) return [path];
  if (env.XENSTORED_PATH !== undefined) return [env.XENSTORED_PATH];
  return [xenstoredSocketPath(env), existsSync('/dev/xen/xenbus') ? '/dev/xen/xenbus' : '/proc/xen/xenbus'];
}
