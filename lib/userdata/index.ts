// Domain templates (libxl's "libxl-json" userdata) and the domain-userdata
// lock, in libxl's files: xl and xen-domconfig can share a host and a domain.
import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { ConfigError, NIL_UUID, formatTemplateRewrite, parseDomainConfig, type DomainConfig } from '../config/index.js';
import type { XenStore, XenStoreOps } from '../xenstore/index.js';
import { TemplateError, fileError } from './errors.js';
import { MAX_TEMPLATE_BYTES, decodeTemplate, readFileBytes, templateBytes, writeFileAtomically } from './files.js';
import { acquireFileLock, releaseFileLock, type HeldFileLock, type LockWaitOptions } from './lock.js';
import {
  LOCK_USERID, TEMPLATE_USERID, checkDomid, checkUuid, describe, parseUserdataName, templatePaths, userdataDir,
  type TemplatePaths,
} from './paths.js';

export { TemplateError, type TemplateErrorCode, type TemplateErrorDetails } from './errors.js';
export { AbortError } from '../xenstore/index.js';
export { type TemplatePaths } from './paths.js';
export { DEFAULT_USERDATA_DIR, MAX_DOMID } from '../xen.js';
export { MAX_TEMPLATE_BYTES } from './files.js';

export interface TemplateStoreOptions {
  xenstore: XenStore;
  /** Where the uuid and the lock's domain check are read (default: the XenStore; e.g. a pipelined connection). */
  reader?: Pick<XenStoreOps, 'readMany'>;
  /** libxl's /var/lib/xen by default. */
  dir?: string;
}

export interface DomainFileOptions {
  /** The domain's uuid if already known; otherwise read from xenstore. */
  uuid?: string;
}

export interface LockOptions extends DomainFileOptions, LockWaitOptions {
  /**
   * Check, once the lock is held, that the domain still exists with that uuid
   * (default true). A caller that reads the domain's vm node under the lock
   * anyway may make that check itself and save the request.
   */
  checkDomain?: boolean;
}

export interface ReleaseOptions {
  /**
   * Leave the lock file in place, as the next holder (us or libxl) would create it again:
   * cheaper than libxl's release, which removes it. Only for a domain seen alive, with this
   * uuid, under the lock: libxl's destroy removes the file through its own release, but a
   * file kept for a domain already destroyed would stay for good.
   */
  keepLockFile?: boolean;
}

/** Releases a held lock; calling it again does nothing. */
export type ReleaseLock = (options?: ReleaseOptions) => Promise<void>;

/** Waits this long for the lock unless told otherwise (libxl waits forever). */
export const DEFAULT_LOCK_TIMEOUT_MS = 30_000;

const VM_PATH = /^\/vm\/(.*)$/s;
const vmNode = (domid: number) => `/local/domain/${domid}/vm`;

export class TemplateStore {
  readonly dir: string;
  readonly #reader: Pick<XenStoreOps, 'readMany'>;

  constructor(options: TemplateStoreOptions) {
    this.#reader = options.reader ?? options.xenstore;
    this.dir = userdataDir(options.dir);
  }

  /**
   * The uuid in the domain's file names, from /local/domain/<domid>/vm =
   * "/vm/<uuid>". libxl asks the hypervisor; that node sits in a
   * guest-owned directory, so it is checked strictly before any path use.
   * Dom0 has no vm node: its uuid is the nil one, as the hypervisor says
   * (and retrieve takes it).
   */
  async domainUuid(domid: number): Promise<string> {
    checkDomid(domid);
    const [vm] = await this.#reader.readMany([vmNode(domid)]);
    if (vm === undefined) {
      if (!await this.#domainExists(domid)) throw new TemplateError('ENODOMAIN', `domain ${domid} does not exist`, { domid });
      if (domid === 0) return NIL_UUID;
      throw new TemplateError('ENOUUID', `domain ${domid} has no ${vmNode(domid)} node: pass its uuid`, { domid });
    }
    const uuid = VM_PATH.exec(vm)?.[1];
    if (uuid === undefined) {
      throw new TemplateError('EBADUUID', `domain ${domid}: ${vmNode(domid)} is ${describe(vm)}, not /vm/<uuid>`, { domid });
    }
    return checkUuid(uuid, domid);
  }

  paths(domid: number, uuid: string): TemplatePaths {
    return templatePaths(this.dir, domid, uuid);
  }

  /** The stored bytes, libxl's trailing NUL included (ENOTEMPLATE if none, ECORRUPT if empty). */
  async readBytes(domid: number, options: DomainFileOptions = {}): Promise<Buffer> {
    const { data } = await this.#paths(domid, options);
    const bytes = await readFileBytes(data, domid);
    if (bytes.length === 0) throw new TemplateError('ECORRUPT', `template ${data} is empty`, { path: data, domid });
    return bytes;
  }

  /** The template's JSON text, without the trailing NUL. */
  async readText(domid: number, options: DomainFileOptions = {}): Promise<string> {
    return (await this.#readTemplate(domid, options)).text;
  }

  /** The template parsed; ECORRUPT (cause: the ConfigError) if it is not a domain config. */
  async read(domid: number, options: DomainFileOptions = {}): Promise<DomainConfig> {
    const { text, path } = await this.#readTemplate(domid, options);
    try {
      return parseDomainConfig(text);
    } catch (error) {
      if (!(error instanceof ConfigError)) throw error;
      throw new TemplateError('ECORRUPT', `template ${path} is not a domain configuration: ${error.message}`, { path, domid, cause: error });
    }
  }

  /**
   * Replaces the template atomically (temporary file and rename, as libxl). Text and bytes are stored
   * as given plus libxl's NUL; they must be non-empty UTF-8 without NULs.
   * Like libxl, callers that read-modify-write hold lock() around it.
   */
  async write(domid: number, content: DomainConfig | string | Uint8Array, options: DomainFileOptions = {}): Promise<void> {
    // A config read from a template keeps its wrong-typed keys verbatim; none is lost here.
    const bytes = templateBytes(typeof content === 'string' || content instanceof Uint8Array ? content : formatTemplateRewrite(content));
    // Nothing the reader would refuse replaces a template it accepts.
    if (bytes.length > MAX_TEMPLATE_BYTES) {
      throw new TemplateError('EINVAL', `refusing to store a template of ${bytes.length} bytes: templates are read up to ${MAX_TEMPLATE_BYTES}`, { domid });
    }
    const decoded = decodeTemplate(bytes);
    if ('problem' in decoded) throw new TemplateError('EINVAL', `refusing to store a template that ${decoded.problem}`, { domid });
    const { data, temporary } = await this.#paths(domid, options);
    await writeFileAtomically(data, temporary, bytes, domid);
  }

  /**
   * Takes the domain-userdata lock (shared with libxl) and checks the domain
   * still exists with that uuid (ENODOMAIN otherwise). Resolves to the
   * release function.
   */
  async lock(domid: number, options: LockOptions = {}): Promise<ReleaseLock> {
    const timeoutMs = options.timeoutMs ?? DEFAULT_LOCK_TIMEOUT_MS;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) {
      throw new TemplateError('EINVAL', `invalid lock timeout ${describe(timeoutMs)}: expected milliseconds >= 0`, { domid });
    }
    const uuid = await this.#uuid(domid, options);
    const { lock: path } = this.paths(domid, uuid);
    const held = await acquireFileLock(path, timeoutMs, options.signal, domid);
    if (options.checkDomain !== false) await this.#checkDomain(domid, uuid, held);
    let released = false;
    return async (release: ReleaseOptions = {}) => {
      if (released) return;
      released = true;
      releaseFileLock(held, release.keepLockFile === true);
    };
  }

  /** libxl's check after the wait; on failure the lock is released. */
  async #checkDomain(domid: number, uuid: string, held: HeldFileLock): Promise<void> {
    try {
      // libxl asks the hypervisor whether the domain survived the wait; here
      // xenstore: the domain is there and its vm node, if any (dom0 has
      // none), still names the same uuid.
      const [vm] = await this.#reader.readMany([vmNode(domid)]);
      if (vm === undefined && await this.#domainExists(domid)) return;
      this.checkDomainVm(domid, uuid, vm);
    } catch (error) {
      releaseFileLock(held);
      throw error;
    }
  }

  /**
   * The lock's check for a caller that took the lock with checkDomain: false
   * and read the domain's vm node (`/local/domain/<domid>/vm`) under it with
   * its own reads: ENODOMAIN unless it still names the uuid. (For dom0, which
   * has no vm node, leave the check to the lock.)
   */
  checkDomainVm(domid: number, uuid: string, vm: string | undefined): void {
    if (vm !== `/vm/${uuid}`) throw new TemplateError('ENODOMAIN', `domain ${domid} (${uuid}) no longer exists`, { domid });
  }

  /** Runs fn with the lock held and releases it however fn ends. */
  async withLock<T>(domid: number, fn: () => Promise<T> | T, options: LockOptions = {}): Promise<T> {
    const release = await this.lock(domid, options);
    try {
      return await fn();
    } finally {
      await release();
    }
  }

  /**
   * Removes every userdata file of the domid (any userid, any uuid: files of
   * an earlier domain with the same domid are stale too) except the
   * domain-userdata lock, which its holder's release unlinks. This is the
   * last step of libxl's destroy; call it with the lock held. Returns the
   * removed paths.
   */
  async removeAll(domid: number): Promise<string[]> {
    checkDomid(domid);
    const removed: string[] = [];
    for (const name of await this.#fileNames(domid)) {
      const parsed = parseUserdataName(name);
      if (!parsed || parsed.domid !== domid || parsed.userid === LOCK_USERID) continue;
      const path = join(this.dir, name);
      try {
        await unlink(path);
        removed.push(path);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw fileError('cannot remove', path, error, domid);
      }
    }
    return removed;
  }

  /**
   * The uuid of each domid with exactly one template in the folder, from the
   * file names alone (one readdir). A hint, never proof: the domain's vm node
   * decides, read under the lock.
   */
  async templateUuids(): Promise<Map<number, string>> {
    const uuids = new Map<number, string | undefined>();
    for (const name of await this.#fileNames()) {
      const parsed = parseUserdataName(name);
      if (!parsed || parsed.kind !== 'd' || parsed.userid !== TEMPLATE_USERID) continue;
      uuids.set(parsed.domid, uuids.has(parsed.domid) ? undefined : parsed.uuid); // two: no hint
    }
    return new Map([...uuids].filter((entry): entry is [number, string] => entry[1] !== undefined));
  }

  async #fileNames(domid?: number): Promise<string[]> {
    try {
      return await readdir(this.dir);
    } catch (error) {
      throw fileError('cannot list userdata directory', this.dir, error, domid);
    }
  }

  async #domainExists(domid: number): Promise<boolean> {
    const [home] = await this.#reader.readMany([`/local/domain/${domid}`]);
    return home !== undefined;
  }

  async #readTemplate(domid: number, options: DomainFileOptions): Promise<{ text: string; path: string }> {
    const { data: path } = await this.#paths(domid, options);
    const decoded = decodeTemplate(await readFileBytes(path, domid));
    if ('problem' in decoded) throw new TemplateError('ECORRUPT', `template ${path} ${decoded.problem}`, { path, domid });
    return { text: decoded.text, path };
  }

  async #uuid(domid: number, options: DomainFileOptions): Promise<string> {
    checkDomid(domid);
    return options.uuid === undefined ? this.domainUuid(domid) : checkUuid(options.uuid, domid);
  }

  async #paths(domid: number, options: DomainFileOptions): Promise<TemplatePaths> {
    return this.paths(domid, await this.#uuid(domid, options));
  }
}
