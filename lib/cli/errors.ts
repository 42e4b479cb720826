// Exit codes and the one-line messages the command prints for errors.

// The exit status of an error is ERROR_CODES' entry for its code (lib/errors.ts).
import { EXIT, exitStatusOf, nameErrorClass, XenDomconfigError, type ErrorCode, type ExitCode } from '../errors.js';

export { EXIT, type ExitCode } from '../errors.js';

export const EXIT_CODE_HELP = `Exit codes:
  0  success
  1  the operation failed, some domains could not be retrieved (named on stderr),
     or the output could not be written
  2  usage error: bad option, argument or device specification
  3  xenstored is not reachable, or the native addon cannot be loaded,
     or xenstored went away during the command
  4  not found: unknown domain, no template for the domain, unknown device
  5  corrupt template or invalid configuration file
  6  permission denied, or a read-only userdata folder
  130, 143  ended by SIGINT or SIGTERM
  141  standard output closed early (as a process ended by SIGPIPE)`;

/** A failure the command found itself (a bad argument, an unknown domain): its code gives the exit status. */
export class CliError extends XenDomconfigError {
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}
nameErrorClass(CliError, 'CliError');

interface ErrorLike {
  code?: unknown;
  message?: string;
  cause?: unknown;
  tried?: string;
}

const CONNECTION_LOST_PREFIX = 'ERR_XENSTORE_CONNECTION_LOST: ';

/** True for the error XenStore.open throws when no daemon answers. */
export function isUnreachableXenstored(error: unknown): boolean {
  return (error as ErrorLike)?.code === 'ERR_XENSTORE_UNAVAILABLE';
}

/**
 * True when xenstored went away (or was never there) for this error or one of
 * its causes: every other domain of a list fails the same way, so it is said once.
 */
export function isXenstoredGone(error: unknown): boolean {
  for (let e = error as (ErrorLike & { cause?: unknown }) | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e.code === 'ERR_XENSTORE_UNAVAILABLE' || e.code === 'ERR_XENSTORE_CONNECTION_LOST') return true;
  }
  return false;
}

/** The exit status for an error: ERROR_CODES' entry for its code, with xenstored's absence said by its own status. */
export function exitCodeFor(error: unknown): ExitCode {
  if (isUnreachableXenstored(error)) return causeCode(error) === 'EACCES' ? EXIT.PERMISSION : EXIT.NO_XENSTORED;
  if (isXenstoredGone(error)) return EXIT.NO_XENSTORED;
  return exitStatusOf((error as ErrorLike)?.code);
}

function causeCode(error: unknown): string | undefined {
  const code = (error as { cause?: ErrorLike })?.cause?.code;
  return code === undefined ? undefined : String(code);
}

/** The one line printed for an error: its message, plus a hint where one helps. */
export function describeError(error: unknown): string {
  const e = error as ErrorLike;
  const message = (e?.message ?? String(error)).split('\n')[0]!;
  const code = String(e?.code ?? '');
  if (isUnreachableXenstored(error)) {
    const { tried } = e;
    const reason = causeCode(error) ?? 'unavailable';
    if (reason === 'ERR_DLOPEN_FAILED') {
      return `xenstore is unavailable: libxenstore could not be loaded (tried ${tried ?? 'the default names'}); install libxenstore4 or set XEN_DOMCONFIG_LIBXENSTORE`;
    }
    if (reason === 'EACCES') return `permission denied connecting to xenstored (tried ${tried ?? 'the default socket'}): run as root`;
    return `cannot connect to xenstored (${reason}; tried ${tried ?? 'the default socket'}): is xenstored running? Select its socket with --xenstore PATH or XENSTORED_PATH`;
  }
  if (isXenstoredGone(error)) {
    const detail = message.startsWith(CONNECTION_LOST_PREFIX) ? message.slice(CONNECTION_LOST_PREFIX.length) : message;
    return `lost the connection to xenstored (${detail}): is xenstored still running?`;
  }
  if (code === 'EACCES' || code === 'EPERM') return `${message} (permission denied: run as root?)`;
  return message;
}
