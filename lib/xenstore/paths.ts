// xenstored's limits on what a request may carry, checked before anything
// crosses into the addon or onto the wire: a bad path or an oversized value
// is EINVAL / E2BIG at once, without a round trip.
import { join } from 'node:path';

export const XENSTORE_PAYLOAD_MAX = 4096;
export const XENSTORE_ABS_PATH_MAX = 3072;

const PATH_SYNTAX = /^\/(?:[A-Za-z0-9_@-]+(?:\/[A-Za-z0-9_@-]+)*)?$/;
/** Watches may also name a special path: @introduceDomain, @releaseDomain. */
const SPECIAL_PATH = /^@[A-Za-z0-9_@-]+$/;

/** xenstored's rules for an absolute path: charset, no `//`, no trailing `/`, ≤ 3072 bytes. */
export function isValidXenStorePath(path: string): boolean {
  return typeof path === 'string' && path.length <= XENSTORE_ABS_PATH_MAX && PATH_SYNTAX.test(path);
}

/** A path xs_watch accepts: an absolute path or a special one. */
export function isValidWatchPath(path: string): boolean {
  return isValidXenStorePath(path) || (typeof path === 'string' && path.length <= XENSTORE_ABS_PATH_MAX && SPECIAL_PATH.test(path));
}

/** The socket libxenstore would try first: $XENSTORED_PATH, else ${XENSTORED_RUNDIR:-/var/run/xenstored}/socket. */
export function xenstoredSocketPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.XENSTORED_PATH ?? join(env.XENSTORED_RUNDIR ?? '/var/run/xenstored', 'socket');
}
