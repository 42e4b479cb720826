// Exit codes and the one-line messages the command prints for errors.

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

/** A failure the command already described, carrying its exit code. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(message: string, readonly exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const NOT_FOUND_CODES = new Set(['ENOENT', 'ENODOMAIN', 'ENOTEMPLATE', 'ENODEV', 'ENXIO', 'ESRCH']);
const CORRUPT_CODES = new Set(['ECORRUPT', 'EBADCONFIG', 'ERR_CONFIG']);
const PERMISSION_CODES = new Set(['EACCES', 'EPERM', 'EROFS']);
const USAGE_CODES = new Set(['EINVAL', 'EBADDOMID', 'EBADUUID']);
const NO_XENSTORE_CODES = new Set(['ERR_XEN_DOMCONFIG_ADDON', 'ERR_LOCAL_XENSTORED_MISSING']);

interface ErrorLike {
  name?: string;
  code?: unknown;
  message?: string;
  syscall?: string;
}

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

export function exitCodeFor(error: unknown): ExitCode {
  if (error instanceof CliError) return error.exitCode;
  if (isUnreachableXenstored(error)) return causeCode(error) === 'EACCES' ? EXIT.PERMISSION : EXIT.NO_XENSTORED;
  if (isXenstoredGone(error)) return EXIT.NO_XENSTORED;
  const e = error as ErrorLike;
  const code = String(e?.code ?? '');
  if (NO_XENSTORE_CODES.has(code)) return EXIT.NO_XENSTORED;
  if (e?.name === 'SpecError' || USAGE_CODES.has(code) || code.startsWith('commander.')) return EXIT.USAGE;
  if (e?.name === 'ConfigError' || CORRUPT_CODES.has(code)) return EXIT.CORRUPT;
  if (PERMISSION_CODES.has(code)) return EXIT.PERMISSION;
  if (NOT_FOUND_CODES.has(code)) return EXIT.NOT_FOUND;
  return EXIT.FAILED;
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
    const tried = (error as { message: string }).message.match(/Tried: (.*)/)?.[1];
    const reason = causeCode(error) ?? 'unavailable';
    if (/libxenstore/.test(message)) {
      return `${message.replace(/^xen-domconfig: /, '')} (${tried ?? ''}); install libxenstore4 or set XEN_DOMCONFIG_LIBXENSTORE`;
    }
    if (reason === 'EACCES') return `permission denied connecting to xenstored (tried ${tried ?? 'the default socket'}): run as root`;
    return `cannot connect to xenstored (${reason}; tried ${tried ?? 'the default socket'}): is xenstored running? Select its socket with --xenstore PATH or XENSTORED_PATH`;
  }
  if (!isUnreachableXenstored(error) && isXenstoredGone(error)) {
    return `lost the connection to xenstored (${message.replace(/^ERR_XENSTORE_CONNECTION_LOST: /, '')}): is xenstored still running?`;
  }
  if ((code === 'EACCES' || code === 'EPERM') && !/root/.test(message)) return `${message} (permission denied: run as root?)`;
  return message;
}
