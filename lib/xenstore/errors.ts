// Errors raised by xenstore operations: Node-style system errors whose
// `code` is the errno name xenstored answered with ('ENOENT', 'EACCES',
// 'EAGAIN', …), or an ERR_XENSTORE_* code of this library.
export class XenStoreError extends Error {
  declare code: string;
  declare errno: number;
  declare syscall: string;
  declare path?: string;
  /** Transactions: how many times the transaction function ran. */
  declare attempts?: number;

  constructor(message: string, fields?: { code: string; errno: number; syscall: string; path?: string; cause?: unknown }) {
    super(message, fields?.cause === undefined ? undefined : { cause: fields.cause });
    if (fields) {
      this.code = fields.code;
      this.errno = fields.errno;
      this.syscall = fields.syscall;
      if (fields.path !== undefined) this.path = fields.path;
    }
    Error.captureStackTrace?.(this, new.target);
  }
}
Object.defineProperty(XenStoreError.prototype, 'name', { value: 'XenStoreError', enumerable: false, configurable: true, writable: true });

/** Node's AbortError shape: name 'AbortError', code 'ABORT_ERR', cause = signal.reason. */
export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  constructor(signal: AbortSignal) {
    super('The operation was aborted', { cause: signal.reason });
  }
}
Object.defineProperty(AbortError.prototype, 'name', { value: 'AbortError', enumerable: false, configurable: true, writable: true });

export function isXenStoreError(error: unknown, code?: string): error is XenStoreError {
  return error instanceof XenStoreError && (code === undefined || error.code === code);
}
