// Errors raised by xenstore operations: Node-style system errors whose
// `code` is the errno name xenstored answered with ('ENOENT', 'EACCES',
// 'EAGAIN', …), or an ERR_XENSTORE_* code of this library. Both transports
// (the addon and the wire client) raise them with the same fields for the
// same failure: code, errno (positive, as libxenstore sets it), syscall (the
// libxenstore call) and path.
import { getSystemErrorMap } from 'node:util';
import { nameErrorClass, XenDomconfigError, type ErrorCode } from '../errors.js';
import { errnoOf, refusal, XENSTORE_PAYLOAD_MAX } from './protocol.js';

export class XenStoreError extends XenDomconfigError {
  declare errno: number;
  declare syscall: string;
  /** Transactions: how many times the transaction function ran. */
  declare attempts?: number;
  /** ERR_XENSTORE_UNAVAILABLE: what was tried (the sockets, each with whether it exists, or the libraries). */
  declare tried?: string;

  /** The addon constructs it with the message alone, then sets code, errno, syscall and path. */
  constructor(message: string, fields?: { code: ErrorCode; errno: number; syscall: string; path?: string; cause?: unknown }) {
    super(fields?.code, message, fields ? { ...(fields.path !== undefined ? { path: fields.path } : {}), cause: fields.cause } : {});
    if (fields) {
      this.errno = fields.errno;
      this.syscall = fields.syscall;
    }
    Error.captureStackTrace?.(this, new.target);
  }
}
nameErrorClass(XenStoreError, 'XenStoreError');

/** Node's AbortError shape: name 'AbortError', code 'ABORT_ERR', cause = signal.reason. */
export class AbortError extends XenDomconfigError {
  declare readonly code: 'ABORT_ERR';
  constructor(signal: AbortSignal | undefined) {
    super('ABORT_ERR', 'The operation was aborted', { cause: signal?.reason });
  }
}
nameErrorClass(AbortError, 'AbortError');

/** The errno of ERR_XENSTORE_CLOSED, as the addon sets it. */
export const CLOSED_ERRNO = errnoOf('EBADF');

/**
 * The error of a request that failed with `code`, worded as the addon words
 * it: "CODE: reason, syscall 'path'" (reason: the system's text for the errno).
 */
export function xenStoreError(
  code: ErrorCode, syscall: string, path?: string,
  options: { reason?: string; errno?: number; cause?: unknown } = {},
): XenStoreError {
  const errno = options.errno ?? errnoOf(code);
  const reason = options.reason ?? getSystemErrorMap().get(-errno)?.[1] ?? 'failed';
  const shown = path === undefined ? '' : ` '${path.length > 80 ? `${path.slice(0, 80)}…` : path}'`;
  return new XenStoreError(`${code}: ${reason}, ${syscall}${shown}`, {
    code, errno, syscall, cause: options.cause, ...(path !== undefined ? { path } : {}),
  });
}

const REFUSAL_REASON = { EINVAL: 'not a valid absolute xenstore path', E2BIG: `request larger than ${XENSTORE_PAYLOAD_MAX} bytes` };

/** The EINVAL or E2BIG a request of `syscall` on `path`, carrying `bodyLength` more bytes, meets before it is sent. */
export function refusedRequest(syscall: string, path: string, bodyLength = 0, pathChecked = false): XenStoreError | undefined {
  const code = refusal(path, bodyLength, pathChecked);
  return code && xenStoreError(code, syscall, path, { reason: REFUSAL_REASON[code] });
}

/** What every request of a closed store or connection raises (the addon's syscall for it: xs_request). */
export function closedError(syscall = 'xs_request'): XenStoreError {
  return xenStoreError('ERR_XENSTORE_CLOSED', syscall, undefined, { reason: 'the xenstore connection is closed', errno: CLOSED_ERRNO });
}

/** What a request on a transaction that has ended raises. */
export function transactionEndedError(id: number): XenStoreError {
  return new XenStoreError(`ERR_XENSTORE_TRANSACTION_ENDED: transaction ${id} has ended`, {
    code: 'ERR_XENSTORE_TRANSACTION_ENDED',
    errno: 0,
    syscall: 'xs_request',
  });
}

export function isXenStoreError(error: unknown, code?: string): error is XenStoreError {
  return error instanceof XenStoreError && (code === undefined || error.code === code);
}
