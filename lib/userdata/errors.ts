// Typed errors of the template store: codes of ERROR_CODES (ENOTEMPLATE,
// ECORRUPT, EBADDOMID, …), or the system code (ENOENT, ENOTDIR, EACCES,
// ENOSPC…) of a failed file operation, with errno, syscall and path.
import { nameErrorClass, XenDomconfigError, type ErrorCode, type SystemErrorDetails } from '../errors.js';

/** The codes the template store raises of its own. */
export type TemplateErrorCode =
  | 'ENOTEMPLATE'   // the domain has no template file
  | 'ECORRUPT'      // the template file is empty, too large, not UTF-8 text or not a domain config
  | 'EBADDOMID'     // not an integer domid in 0..0x7FEF
  | 'EBADUUID'      // not a lowercase 8-4-4-4-12 uuid (also a hostile /local/domain/<domid>/vm)
  | 'ENODOMAIN'     // the domain does not exist (any more)
  | 'ENOUUID'       // the domain has no /local/domain/<domid>/vm (dom0): pass its uuid
  | 'ELOCKTIMEOUT'  // the domain-userdata lock was not acquired in time
  | 'EINVAL';       // content or option refused before anything was written

export type TemplateErrorDetails = SystemErrorDetails;

export class TemplateError extends XenDomconfigError {
  /** Set where a file operation failed. */
  declare readonly errno?: number;
  declare readonly syscall?: string;

  constructor(code: ErrorCode, message: string, details: TemplateErrorDetails = {}) {
    super(code, message, details);
    const fields = this as { errno?: number; syscall?: string };
    if (details.errno !== undefined) fields.errno = details.errno;
    if (details.syscall !== undefined) fields.syscall = details.syscall;
  }
}
nameErrorClass(TemplateError, 'TemplateError');

/** Wraps a failed file operation: "<action> <path>: ENOENT: no such file or directory". */
export function fileError(action: string, path: string, error: unknown, domid?: number): Error {
  const system = error as NodeJS.ErrnoException;
  if (typeof system?.code !== 'string') return error instanceof Error ? error : new Error(String(error));
  const reason = system.message.split(',')[0] ?? system.code;
  return new TemplateError(system.code as ErrorCode, `${action} ${path}: ${reason}`, {
    path,
    ...(domid === undefined ? {} : { domid }),
    ...(system.errno === undefined ? {} : { errno: system.errno }),
    ...(system.syscall === undefined ? {} : { syscall: system.syscall }),
    cause: error,
  });
}
