// Typed errors of the template store. `code` follows Node's convention:
// template-specific codes below, or the system code (ENOENT, ENOTDIR, EACCES,
// ENOSPC…) of a failed file operation, with errno, syscall and path.

export type TemplateErrorCode =
  | 'ENOTEMPLATE'   // the domain has no template file
  | 'ECORRUPT'      // the template file is empty, too large, not UTF-8 text or not a domain config
  | 'EBADDOMID'     // not an integer domid in 0..0x7FEF
  | 'EBADUUID'      // not a lowercase 8-4-4-4-12 uuid (also a hostile /local/domain/<domid>/vm)
  | 'ENODOMAIN'     // the domain does not exist (any more)
  | 'ENOUUID'       // the domain has no /local/domain/<domid>/vm (dom0): pass its uuid
  | 'ELOCKTIMEOUT'  // the domain-userdata lock was not acquired in time
  | 'EINVAL';       // content or option refused before anything was written

export interface TemplateErrorDetails {
  path?: string;
  domid?: number;
  errno?: number;
  syscall?: string;
  cause?: unknown;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
  readonly code: TemplateErrorCode | string;
  readonly path?: string;
  readonly domid?: number;
  readonly errno?: number;
  readonly syscall?: string;

  constructor(code: TemplateErrorCode | string, message: string, details: TemplateErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    if (details.path !== undefined) this.path = details.path;
    if (details.domid !== undefined) this.domid = details.domid;
    if (details.errno !== undefined) this.errno = details.errno;
    if (details.syscall !== undefined) this.syscall = details.syscall;
  }
}

/** Wraps a failed file operation: "<action> <path>: ENOENT: no such file or directory". */
export function fileError(action: string, path: string, error: unknown, domid?: number): Error {
  const system = error as NodeJS.ErrnoException;
  if (typeof system?.code !== 'string') return error instanceof Error ? error : new Error(String(error));
  const reason = system.message.split(',')[0] ?? system.code;
  return new TemplateError(system.code, `${action} ${path}: ${reason}`, {
    path,
    ...(domid === undefined ? {} : { domid }),
    ...(system.errno === undefined ? {} : { errno: system.errno }),
    ...(system.syscall === undefined ? {} : { syscall: system.syscall }),
    cause: error,
  });
}
