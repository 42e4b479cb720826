// Typed errors of retrieve, list and diff. `code` follows Node's convention;
// errors of the layers below (TemplateError, XenStoreError) pass through
// unchanged with their own codes (ENOTEMPLATE, ECORRUPT, ELOCKTIMEOUT, …).

export type DomainErrorCode =
  | 'ENODOMAIN'  // the domain does not exist (any more)
  | 'EXSVALUE'   // a toolstack-owned xenstore node is missing or malformed (see `path`)
  | 'EQMP'       // QEMU's QMP socket could not be used or answered something unexpected
  | 'ETIMEDOUT'; // QEMU did not answer in time

export class DomainError extends Error {
  override name = 'DomainError';
  constructor(
    readonly code: DomainErrorCode,
    message: string,
    readonly details: { domid?: number; path?: string; cause?: unknown } = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
  }

  get domid(): number | undefined {
    return this.details.domid;
  }

  get path(): string | undefined {
    return this.details.path;
  }
}
