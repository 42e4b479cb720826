import { nameErrorClass, XenDomconfigError } from '../errors.js';

/** A libxl-json text that cannot be read as a libxl_domain_config (or one of its parts): ERR_CONFIG. */
export class ConfigError extends XenDomconfigError {
  declare readonly code: 'ERR_CONFIG';
  /** Where in the document: `b_info.type.hvm.vga.kind`, `disks[1].format`; '' for the root. */
  readonly jsonPath: string;
  /** What would have been accepted there. */
  readonly expected: string;
  /** What was found instead, when known. */
  readonly detail: string | undefined;
  /** Character offset in the text, for syntax errors. */
  readonly offset: number | undefined;

  constructor(jsonPath: string, expected: string, detail?: string, offset?: number) {
    const where = jsonPath === '' ? 'document' : jsonPath;
    const at = offset === undefined ? '' : ` (offset ${offset})`;
    super('ERR_CONFIG', `libxl-json: ${where}: expected ${expected}${detail ? `, ${detail}` : ''}${at}`);
    this.jsonPath = jsonPath;
    this.expected = expected;
    this.detail = detail;
    this.offset = offset;
  }
}
nameErrorClass(ConfigError, 'ConfigError');
