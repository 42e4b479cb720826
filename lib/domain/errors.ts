// Typed errors of retrieve, list and diff. Errors of the layers below
// (TemplateError, XenStoreError) pass through unchanged with their own codes
// (ENOTEMPLATE, ECORRUPT, ELOCKTIMEOUT, …).
import { nameErrorClass, XenDomconfigError, type ErrorDetails } from '../errors.js';

export type DomainErrorCode =
  | 'ENODOMAIN'  // the domain does not exist (any more)
  | 'EXSVALUE'   // a toolstack-owned xenstore node is missing or malformed (see `path`)
  | 'EQMP'       // QEMU's QMP socket could not be used or answered something unexpected
  | 'ETIMEDOUT'; // QEMU did not answer in time

export class DomainError extends XenDomconfigError {
  declare readonly code: DomainErrorCode;
  constructor(code: DomainErrorCode, message: string, details: ErrorDetails = {}) {
    super(code, message, details);
  }
}
nameErrorClass(DomainError, 'DomainError');
