// File names exactly as libxl lays them out (libxl__userdata_path):
//   <dir>/userdata-<kind>.<domid>.<uuid>.<userid>
// kind d = data, n = new (temporary), l = lock. Every name is built from a
// validated domid and uuid only, so no input can steer a path elsewhere.
import { resolve } from 'node:path';
import { DEFAULT_USERDATA_DIR, MAX_DOMID } from '../xen.js';
import { TemplateError } from './errors.js';

/** Userdata id of the libxl_domain_config JSON. */
export const TEMPLATE_USERID = 'libxl-json';
/** Userdata id of the domain-userdata lock (libxl__lock_domain_userdata). */
export const LOCK_USERID = 'domain-userdata-lock';

const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const USERDATA_NAME = /^userdata-([a-z])\.(0|[1-9][0-9]{0,4})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.(.+)$/;

export type UserdataKind = 'd' | 'n' | 'l';

export interface TemplatePaths {
  /** userdata-d.<domid>.<uuid>.libxl-json: the template. */
  readonly data: string;
  /** userdata-n.<domid>.<uuid>.libxl-json: written, synced, then renamed over `data`. */
  readonly temporary: string;
  /** userdata-l.<domid>.<uuid>.domain-userdata-lock: the flock file shared with libxl. */
  readonly lock: string;
}

export function checkDomid(domid: unknown): number {
  if (typeof domid !== 'number' || !Number.isInteger(domid) || domid < 0 || domid > MAX_DOMID) {
    throw new TemplateError('EBADDOMID', `invalid domid ${describe(domid)}: expected an integer in 0..${MAX_DOMID}`);
  }
  return domid;
}

export function checkUuid(uuid: unknown, domid?: number): string {
  if (typeof uuid !== 'string' || !UUID_PATTERN.test(uuid)) {
    throw new TemplateError('EBADUUID', `invalid uuid ${describe(uuid)}: expected lowercase xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`,
      domid === undefined ? {} : { domid });
  }
  return uuid;
}

export function userdataDir(dir: string | undefined): string {
  return resolve(dir ?? DEFAULT_USERDATA_DIR);
}

/** libxl__userdata_path's three files of a domain, in dir (a resolved folder: userdataDir's result). */
export function templatePaths(dir: string, domid: number, uuid: string): TemplatePaths {
  checkDomid(domid);
  checkUuid(uuid, domid);
  const prefix = `${dir === '/' ? '' : dir}/userdata-`;
  const name = (kind: UserdataKind, userid: string) => `${prefix}${kind}.${domid}.${uuid}.${userid}`;
  return { data: name('d', TEMPLATE_USERID), temporary: name('n', TEMPLATE_USERID), lock: name('l', LOCK_USERID) };
}

/** Splits a userdata file name; undefined for anything else. */
export function parseUserdataName(name: string): { kind: string; domid: number; uuid: string; userid: string } | undefined {
  const match = USERDATA_NAME.exec(name);
  if (!match) return undefined;
  return { kind: match[1]!, domid: Number(match[2]), uuid: match[3]!, userid: match[4]! };
}

/** A short, printable rendering of a rejected value for messages. */
export function describe(value: unknown): string {
  const text = typeof value === 'string' ? JSON.stringify(value)
    : typeof value === 'object' && value !== null ? Object.prototype.toString.call(value)
    : String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
