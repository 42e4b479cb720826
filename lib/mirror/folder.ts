// The mirror's watch on the userdata folder: inotify (fs.watch) for templates
// written by anyone, and a periodic look at each template file's identity
// (inode, size, mtime, ctime), since Node's fs.watch never reports an
// overflowed inotify queue (libuv drops IN_Q_OVERFLOW). A folder replaced under
// the watch, or a watch that fails, is a loss: the mirror watches everything
// again with a new one.
import { watch as watchFolder, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { XenDomconfigError } from '../errors.js';
import { parseUserdataName, TEMPLATE_USERID } from '../userdata/paths.js';

export interface TemplateFolderWatchOptions {
  dir: string;
  /** How often the files' identities are compared with the last look, in ms; 0: never. */
  checkMs: number;
  /** A domain's template changed (written, replaced or removed). */
  onTemplate(domid: number): void;
  /** Changes may have been missed; the watch is of no more use. */
  onLost(reason: Error): void;
}

export class TemplateFolderWatch {
  readonly #options: TemplateFolderWatchOptions;
  #closed = false;
  #watcher: FSWatcher | undefined;
  #ino: number | undefined;
  /** Each template file's identity at the last look, by name. */
  #files = new Map<string, string>();
  #checkTimer: NodeJS.Timeout | undefined;

  constructor(options: TemplateFolderWatchOptions) {
    this.#options = options;
  }

  /** Watches the folder, then looks at its files once, marking nothing: a file changed after this look differs from it at the next. */
  async start(): Promise<void> {
    const { dir } = this.#options;
    const { ino } = await stat(dir);
    if (this.#closed) return;
    this.#ino = ino;
    const watcher = watchFolder(dir, { persistent: false }, (_type, name) => this.#changed(name));
    watcher.on('error', (error) => this.#lose(error));
    this.#watcher = watcher;
    await this.#check(false);
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#checkTimer);
    this.#watcher?.close();
    this.#watcher = undefined;
  }

  #lose(reason: Error): void {
    if (!this.#closed) this.#options.onLost(reason);
  }

  /** Compares each template file's identity with the last look; reports the domains whose file differs. */
  async #check(report = true): Promise<void> {
    clearTimeout(this.#checkTimer);
    const { dir, checkMs, onTemplate } = this.#options;
    const now = new Map<string, string>();
    for (const name of await readdir(dir)) {
      const parsed = parseUserdataName(name);
      if (parsed?.kind !== 'd' || parsed.userid !== TEMPLATE_USERID) continue;
      const file = await stat(join(dir, name), { bigint: true }).catch(() => undefined);
      if (file) now.set(name, `${file.ino}:${file.size}:${file.mtimeNs}:${file.ctimeNs}`);
    }
    if (this.#closed) return;
    if (report) {
      for (const [name, identity] of now) if (this.#files.get(name) !== identity) onTemplate(parseUserdataName(name)!.domid);
      for (const name of this.#files.keys()) if (!now.has(name)) onTemplate(parseUserdataName(name)!.domid);
    }
    this.#files = now;
    if (checkMs > 0) {
      this.#checkTimer = setTimeout(() => {
        this.#check().catch((error: Error) => this.#lose(error));
      }, checkMs).unref();
    }
  }

  #changed(name: string | Buffer | null): void {
    const parsed = typeof name === 'string' ? parseUserdataName(name) : undefined;
    if (parsed) {
      if (parsed.kind === 'd' && parsed.userid === TEMPLATE_USERID) this.#options.onTemplate(parsed.domid);
      return;
    }
    // No name (the kernel's queue overflowed) or not a userdata file: the folder itself may have been replaced.
    const { dir } = this.#options;
    void stat(dir).then(
      (now) => {
        if (name === null || now.ino !== this.#ino) this.#lose(new XenDomconfigError('ERR_MIRROR_FOLDER_CHANGED', `the userdata folder ${dir} changed under its watch`, { path: dir }));
      },
      (error: Error) => this.#lose(error),
    );
  }
}
