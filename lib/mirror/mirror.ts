// ConfigMirror: every domain's configuration (what `list -l` gives) kept
// current by xenstore watches and the userdata folder, so that a listing
// costs no request and each change is read once, as soon as it happens.
//
// Sources: @introduceDomain and @releaseDomain (the domain list is read
// again), each domain's own nodes — exactly what its last retrieve read,
// recorded from the requests themselves (watchRoots) — and inotify on the
// userdata folder for templates written by anyone. A change marks its
// domain; marked domains are retrieved again, at most `concurrency` at once,
// and one marked again while being read is read once more afterwards, so a
// burst costs a few reads, never one per write.
//
// What can lose events — the daemon going away or restarting, the userdata
// watch failing, the folder replaced — makes the mirror `stale` until it has
// watched everything again and re-read every domain, emitting what changed.
import { watch as watchFolder, type FSWatcher } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_LIST_CONCURRENCY, listDomids, type DomainFailure, type LongListEntry } from '../domain/list.js';
import { retrieveDomain, type RetrieveContext, type RetrievedDomain, type RetrieveOptions } from '../domain/retrieve.js';
import { domainPaths, watchRoots, type StateReader } from '../domain/state.js';
import { parseUserdataName, MAX_DOMID, TEMPLATE_USERID } from '../userdata/paths.js';
import { jsonable } from '../util/json.js';
import { diffEntries, type PathChange } from './changes.js';

export interface MirrorOptions {
  /** Domains retrieved at once (default: as many as a list). */
  concurrency?: number;
  /** Ends the mirror as close() does. */
  signal?: AbortSignal;
  /** How long a read waits for the domain-userdata lock (default: the template store's). */
  lockTimeoutMs?: number;
  /**
   * How often the template files' identities (inode, size, mtime) are compared
   * with the last look, in ms (default 5000). Node's fs.watch never reports an
   * overflowed inotify queue (libuv drops IN_Q_OVERFLOW); this look finds what
   * it lost. 0 turns it off.
   */
  folderCheckMs?: number;
}

export type MirrorState = 'starting' | 'current' | 'stale' | 'closed';

export type MirrorEvent =
  /** A domain's configuration is there: a new domain, or one that could not be retrieved before. */
  | { type: 'added'; domid: number; entry: RetrievedDomain }
  /** A domain's configuration changed; `changes` turn the previous entry into `entry`. */
  | { type: 'changed'; domid: number; entry: RetrievedDomain; changes: PathChange[] }
  /** The domain is gone. */
  | { type: 'removed'; domid: number }
  /** The domain cannot be retrieved (now, or for another reason than before), as a list reports it. */
  | { type: 'error'; domid: number; error: DomainFailure['error'] }
  /** Events may have been missed: until `current`, list() and get() may be behind. */
  | { type: 'stale'; reason: Error }
  /** Everything was watched and read again; what changed meanwhile was emitted before this. */
  | { type: 'current' };

export interface MirrorEventsOptions {
  /** Start with an `added` (or `error`) event for each domain already mirrored, once ready. */
  initial?: boolean;
}

/** Codes of a failure that says nothing of the domain: the daemon is gone. */
const CONNECTION_CODES = new Set([
  'ERR_XENSTORE_CONNECTION_LOST', 'ERR_XENSTORE_UNAVAILABLE', 'ERR_XENSTORE_NO_SOCKET', 'EPIPE', 'ECONNRESET', 'ENOTCONN', 'ECONNREFUSED',
]);
const SPECIAL_WATCHES = ['@introduceDomain', '@releaseDomain'];
const DEFAULT_FOLDER_CHECK_MS = 5000;
const FIRST_RETRY_MS = 20;
const MAX_RETRY_MS = 1000;

interface DomainRecord {
  entry: LongListEntry;
}

/** One consumer's events not yet taken: per domain the entry it last saw, in order of last change. */
interface Subscriber {
  pending: Map<number | 'state', LongListEntry | undefined>;
  wake?: () => void;
  done: boolean;
}

export class ConfigMirror implements AsyncIterable<MirrorEvent>, AsyncDisposable {
  /** Resolves once every domain has been read (rejects if the mirror is closed first). */
  readonly ready: Promise<void>;
  #state: MirrorState = 'starting';
  #staleReason: Error | undefined;
  readonly #context: RetrieveContext;
  readonly #concurrency: number;
  readonly #records = new Map<number, DomainRecord>();
  /** Watch iterators by domid (or 'host' for the special ones), by path. */
  readonly #watches = new Map<number | 'host', Map<string, AsyncIterator<unknown>>>();
  readonly #marked = new Set<number>();
  readonly #reading = new Set<number>();
  readonly #readAgain = new Set<number>();
  readonly #subscribers = new Set<Subscriber>();
  readonly #idle = new Set<() => void>();
  #folder: FSWatcher | undefined;
  #folderIno: number | undefined;
  /** Each template file's identity at the last look at the folder, by name. */
  #templateFiles = new Map<string, string>();
  #folderCheckTimer: NodeJS.Timeout | undefined;
  readonly #folderCheckMs: number;
  readonly #retrieveOptions: RetrieveOptions;
  /** Bumped whenever what is watched is dropped: older reads and loops stop counting. */
  #epoch = 0;
  #relisting: Promise<void> | undefined;
  /** Domains a sync waits to see read (after it started, with nothing left to read again). */
  readonly #syncing = new Set<number>();
  #synced: (() => void) | undefined;
  #relistAgain = false;
  #retryTimer: NodeJS.Timeout | undefined;
  #retryMs = FIRST_RETRY_MS;
  #resolveReady!: () => void;
  #rejectReady!: (error: Error) => void;
  readonly #onAbort = () => { void this.close(); };
  readonly #signal: AbortSignal | undefined;

  /** XenHost.mirror() makes one (users never see the context). @internal */
  static create(context: RetrieveContext, options: MirrorOptions = {}): ConfigMirror {
    return new ConfigMirror(context, options);
  }

  private constructor(context: RetrieveContext, options: MirrorOptions) {
    this.#context = context;
    this.#concurrency = options.concurrency ?? DEFAULT_LIST_CONCURRENCY;
    this.#folderCheckMs = options.folderCheckMs ?? DEFAULT_FOLDER_CHECK_MS;
    this.#retrieveOptions = options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs };
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw Object.assign(new RangeError('concurrency must be a positive integer'), { code: 'ERR_OUT_OF_RANGE' });
    }
    this.ready = new Promise((resolve, reject) => { this.#resolveReady = resolve; this.#rejectReady = reject; });
    this.ready.catch(() => undefined); // a mirror closed before it was ready: only awaiting callers hear of it
    this.#signal = options.signal;
    if (this.#signal?.aborted) {
      void this.close();
      return;
    }
    this.#signal?.addEventListener('abort', this.#onAbort, { once: true });
    void this.#sync();
  }

  get state(): MirrorState {
    return this.#state;
  }

  /** Why the mirror is stale (undefined unless it is). */
  get staleReason(): Error | undefined {
    return this.#state === 'stale' ? this.#staleReason : undefined;
  }

  /** The domain's entry as the mirror knows it: a retrieval, a failure, or undefined if there is no such domain. */
  get(domid: number): LongListEntry | undefined {
    return this.#records.get(domid)?.entry;
  }

  /** Every domain's entry in domid order, as listDomains({ long: true }) gives them. */
  list(): LongListEntry[] {
    return [...this.#records.keys()].sort((a, b) => a - b).map((domid) => this.#records.get(domid)!.entry);
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<MirrorEvent> {
    return this.events();
  }

  /**
   * The changes from now on. A consumer that falls behind gets one event per
   * domain for what changed since it last looked, never a queue that grows.
   */
  events(options: MirrorEventsOptions = {}): AsyncIterableIterator<MirrorEvent> {
    const subscriber: Subscriber = { pending: new Map(), done: this.#state === 'closed' };
    this.#subscribers.add(subscriber);
    let started = !options.initial;
    const end = (): IteratorResult<MirrorEvent> => {
      subscriber.done = true;
      subscriber.pending.clear();
      this.#subscribers.delete(subscriber);
      subscriber.wake?.(); // a next() still waiting ends too
      return { value: undefined, done: true };
    };
    const iterator: AsyncIterableIterator<MirrorEvent> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        if (!started) {
          started = true;
          await this.ready.catch(() => undefined);
          const queued = subscriber.pending;
          subscriber.pending = new Map([...this.#records.keys()].sort((a, b) => a - b).map((domid) => [domid, undefined]));
          for (const [key, before] of queued) if (!subscriber.pending.has(key)) subscriber.pending.set(key, before);
        }
        for (;;) {
          for (const [key, before] of subscriber.pending) {
            subscriber.pending.delete(key);
            const event = key === 'state' ? this.#stateEvent() : this.#domainEvent(key, before);
            if (event) return { value: jsonable(event), done: false };
          }
          if (subscriber.done) return end();
          await new Promise<void>((resolve) => { subscriber.wake = resolve; });
          subscriber.wake = undefined;
        }
      },
      return: async () => end(),
    };
    return iterator;
  }

  /** Stops watching; pending and later event reads end. Waits for reads in flight. */
  async close(): Promise<void> {
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#epoch++;
      clearTimeout(this.#retryTimer);
      clearTimeout(this.#folderCheckTimer);
      this.#dropWatches();
      this.#marked.clear();
      this.#synced?.();
      this.#rejectReady(Object.assign(new Error('the mirror was closed before it was ready'), { code: 'ERR_MIRROR_CLOSED' }));
      for (const subscriber of this.#subscribers) {
        subscriber.done = true;
        subscriber.wake?.();
      }
    }
    await this.#settled();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  // ---------------------------------------------------------------- events

  #stateEvent(): MirrorEvent | undefined {
    if (this.#state === 'stale') return { type: 'stale', reason: this.#staleReason! };
    if (this.#state === 'current') return { type: 'current' };
    return undefined;
  }

  /** The event from what a consumer last saw to what is now; undefined when they are the same. */
  #domainEvent(domid: number, before: LongListEntry | undefined): MirrorEvent | undefined {
    const now = this.#records.get(domid)?.entry;
    if (now === before) return undefined;
    if (!now) return before ? { type: 'removed', domid } : undefined;
    if ('error' in now) {
      if (before && 'error' in before && sameError(before.error, now.error)) return undefined;
      return { type: 'error', domid, error: now.error };
    }
    if (!before || 'error' in before) return { type: 'added', domid, entry: now };
    const changes = diffEntries(before, now);
    return changes.length === 0 ? undefined : { type: 'changed', domid, entry: now, changes };
  }

  /** Tells every consumer that `key` changed; each keeps what it saw before its first pending change. */
  #publish(key: number | 'state', before: LongListEntry | undefined): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.done) continue;
      const seen = subscriber.pending.has(key) ? subscriber.pending.get(key) : before;
      subscriber.pending.delete(key); // re-inserted last: events come in the order of last change
      subscriber.pending.set(key, seen);
      subscriber.wake?.();
    }
  }

  #setState(state: 'current' | 'stale', reason?: Error): void {
    if (this.#state === 'closed' || this.#state === state) return;
    const wasStarting = this.#state === 'starting';
    this.#state = state;
    this.#staleReason = reason;
    this.#resolveReady(); // no-op after the first time (or after a rejection)
    if (!wasStarting) this.#publish('state', undefined);
  }

  #store(domid: number, entry: LongListEntry | undefined): void {
    const before = this.#records.get(domid)?.entry;
    if (entry) this.#records.set(domid, { entry: jsonable(entry) });
    else this.#records.delete(domid);
    // Before ready, list() is the news: events are the changes after it.
    if (before === entry || this.#state === 'starting') return;
    this.#publish(domid, before);
  }

  // ---------------------------------------------------------------- sources

  /** Registers a watch; the iterator's first event is the one xenstored sends for every new watch. */
  #watch(owner: number | 'host', path: string, onChange: () => void): void {
    let paths = this.#watches.get(owner);
    if (!paths) this.#watches.set(owner, (paths = new Map()));
    if (paths.has(path)) return;
    const iterator = this.#context.xenstore.watch(path);
    paths.set(path, iterator);
    const epoch = this.#epoch;
    void (async () => {
      let first = true;
      try {
        for await (const _event of iterator) {
          if (first) first = false;
          else if (epoch === this.#epoch) onChange();
        }
      } catch (error) {
        if (epoch === this.#epoch) this.#lost(error as Error);
      }
    })();
  }

  #unwatch(owner: number | 'host', keep: ReadonlySet<string> = new Set()): void {
    const paths = this.#watches.get(owner);
    if (!paths) return;
    for (const [path, iterator] of paths) {
      if (keep.has(path)) continue;
      paths.delete(path);
      void iterator.return?.();
    }
    if (paths.size === 0) this.#watches.delete(owner);
  }

  #dropWatches(): void {
    clearTimeout(this.#folderCheckTimer);
    for (const owner of [...this.#watches.keys()]) this.#unwatch(owner);
    this.#folder?.close();
    this.#folder = undefined;
  }

  /** The host's own watches and the userdata folder's (again after a loss). */
  async #watchHost(): Promise<void> {
    for (const path of SPECIAL_WATCHES) this.#watch('host', path, () => this.#relist());
    const dir = this.#context.templates.dir;
    const epoch = this.#epoch;
    const { ino } = await stat(dir);
    if (epoch !== this.#epoch) return; // lost meanwhile: the next sync watches it
    this.#folderIno = ino;
    const folder = watchFolder(dir, { persistent: false }, (_type, name) => this.#folderChanged(name));
    folder.on('error', (error) => this.#lost(error));
    this.#folder = folder;
    // Before the reads: a file changed after this look differs from it at the next.
    await this.#checkFolder(false);
  }

  /** Compares each template file's identity with the last look; marks the domains whose file differs. */
  async #checkFolder(mark = true): Promise<void> {
    clearTimeout(this.#folderCheckTimer);
    const epoch = this.#epoch;
    const dir = this.#context.templates.dir;
    const now = new Map<string, string>();
    for (const name of await readdir(dir)) {
      const parsed = parseUserdataName(name);
      if (parsed?.kind !== 'd' || parsed.userid !== TEMPLATE_USERID) continue;
      const file = await stat(join(dir, name), { bigint: true }).catch(() => undefined);
      if (file) now.set(name, `${file.ino}:${file.size}:${file.mtimeNs}:${file.ctimeNs}`);
    }
    if (epoch !== this.#epoch) return;
    if (mark) {
      for (const [name, identity] of now) if (this.#templateFiles.get(name) !== identity) this.#mark(parseUserdataName(name)!.domid);
      for (const name of this.#templateFiles.keys()) if (!now.has(name)) this.#mark(parseUserdataName(name)!.domid);
    }
    this.#templateFiles = now;
    if (this.#folderCheckMs > 0) {
      this.#folderCheckTimer = setTimeout(() => {
        this.#checkFolder().catch((error: Error) => { if (epoch === this.#epoch) this.#lost(error); });
      }, this.#folderCheckMs).unref();
    }
  }

  #folderChanged(name: string | Buffer | null): void {
    const parsed = typeof name === 'string' ? parseUserdataName(name) : undefined;
    if (parsed) {
      if (parsed.kind === 'd' && parsed.userid === TEMPLATE_USERID) this.#mark(parsed.domid);
      return;
    }
    // No name (the kernel's queue overflowed) or not a userdata file: the folder itself may have been replaced.
    const epoch = this.#epoch;
    void stat(this.#context.templates.dir).then(
      (now) => {
        if (epoch !== this.#epoch) return;
        if (name === null || now.ino !== this.#folderIno) this.#lost(new Error(`the userdata folder ${this.#context.templates.dir} changed under its watch`));
      },
      (error: Error) => { if (epoch === this.#epoch) this.#lost(error); },
    );
  }

  // ---------------------------------------------------------------- reading

  #mark(domid: number): void {
    if (this.#state === 'closed' || !Number.isInteger(domid) || domid < 0 || domid > MAX_DOMID) return;
    if (this.#reading.has(domid)) this.#readAgain.add(domid);
    else this.#marked.add(domid);
    this.#pump();
  }

  #pump(): void {
    if (this.#state !== 'closed') {
      for (const domid of this.#marked) {
        if (this.#reading.size >= this.#concurrency) break;
        this.#marked.delete(domid);
        void this.#read(domid);
      }
    }
    if (this.#reading.size === 0) for (const resolve of [...this.#idle]) resolve();
  }

  /** Retrieves the domain, watches what the retrieve read, and keeps the result. */
  async #read(domid: number): Promise<void> {
    const epoch = this.#epoch;
    this.#reading.add(domid);
    try {
      // Watched before it is read, so that no change after the read can go unseen.
      if (!this.#watches.has(domid)) for (const path of watchRoots(domid)) this.#watch(domid, path, () => this.#mark(domid));
      const read: string[] = [];
      const previous = this.#records.get(domid)?.entry;
      const uuid = previous && 'config' in previous ? previous.config.c_info.uuid : undefined;
      let entry: LongListEntry | undefined;
      try {
        entry = await retrieveDomain({ ...this.#context, reader: recording(this.#context.reader, read) }, domid, this.#retrieveOptions, uuid ? { uuid } : {});
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        if (CONNECTION_CODES.has((error as { code?: string }).code ?? '')) {
          if (epoch === this.#epoch) this.#lost(error);
          return;
        }
        entry = { domid, error };
        // Another holder kept the domain-userdata lock past the timeout: reported as a list
        // reports it, and read again, since its release changes nothing the mirror watches.
        if ((error as { code?: string }).code === 'ELOCKTIMEOUT') {
          setTimeout(() => { if (epoch === this.#epoch) this.#mark(domid); }, FIRST_RETRY_MS).unref();
        }
        if ((error as { code?: string }).code === 'ENODOMAIN') {
          const [home] = await this.#context.reader.readMany([domainPaths(domid).home]);
          if (home === undefined) entry = undefined;
        }
      }
      if (epoch !== this.#epoch) return;
      if (!entry) {
        this.#unwatch(domid);
        this.#store(domid, undefined);
        return;
      }
      // What this read read is what to watch; a path not watched during the read means reading again.
      const roots = watchRoots(domid, read.length > 0 ? read : undefined);
      const before = new Set(this.#watches.get(domid)?.keys());
      for (const path of roots) this.#watch(domid, path, () => this.#mark(domid));
      if (roots.some((path) => !before.has(path))) this.#readAgain.add(domid);
      this.#unwatch(domid, new Set(roots));
      this.#store(domid, entry);
    } catch (error) {
      if (epoch === this.#epoch) this.#lost(error as Error);
    } finally {
      this.#reading.delete(domid);
      if (this.#readAgain.delete(domid)) this.#marked.add(domid); // marked in this epoch: #lost clears it
      else if (epoch === this.#epoch && this.#syncing.delete(domid) && this.#syncing.size === 0) this.#synced?.();
      this.#pump();
    }
  }

  /** Reads the domain list again: new domains are read, vanished ones re-read (and so removed). */
  #relist(): void {
    if (this.#relisting) {
      this.#relistAgain = true;
      return;
    }
    const epoch = this.#epoch;
    this.#relisting = (async () => {
      try {
        do {
          this.#relistAgain = false;
          const listed = new Set(await listDomids(this.#context.xenstore));
          if (epoch !== this.#epoch) return;
          for (const domid of listed) if (!this.#records.has(domid)) this.#mark(domid);
          for (const domid of this.#records.keys()) if (!listed.has(domid)) this.#mark(domid);
        } while (this.#relistAgain);
      } catch (error) {
        if (epoch === this.#epoch) this.#lost(error as Error);
      } finally {
        this.#relisting = undefined;
      }
    })();
  }

  // ---------------------------------------------------------------- losing and resyncing

  /** Something may have been missed: stale until everything is watched and read again. */
  #lost(reason: Error): void {
    if (this.#state === 'closed') return;
    this.#epoch++;
    this.#dropWatches();
    this.#marked.clear();
    this.#readAgain.clear();
    this.#syncing.clear();
    this.#synced?.(); // that sync ends: its epoch is past
    if (this.#state === 'starting') {
      // The first read failed: ready says so; the mirror keeps trying, stale, until closed.
      this.#state = 'stale';
      this.#staleReason = reason;
      this.#rejectReady(reason);
    } else {
      this.#setState('stale', reason);
    }
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => { void this.#sync(); }, this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, MAX_RETRY_MS);
  }

  /** Watches the host, lists the domains, and reads each known or listed one; current when nothing was lost meanwhile. */
  async #sync(): Promise<void> {
    const epoch = this.#epoch;
    try {
      await this.#watchHost();
      const listed = await listDomids(this.#context.xenstore);
      if (epoch !== this.#epoch) return;
      const all = new Set([...listed, ...this.#records.keys()]);
      this.#syncing.clear();
      all.forEach((domid) => this.#syncing.add(domid));
      // Writes that go on all the time cannot hold it back: each domain needs one read of its own.
      const synced = all.size === 0 ? Promise.resolve() : new Promise<void>((resolve) => { this.#synced = resolve; });
      for (const domid of all) this.#mark(domid);
      await synced;
      this.#synced = undefined;
      if (epoch !== this.#epoch) return;
      this.#retryMs = FIRST_RETRY_MS;
      this.#setState('current');
    } catch (error) {
      if (epoch === this.#epoch) this.#lost(error as Error);
    }
  }

  /** Resolves when no read is in flight. */
  #settled(): Promise<void> {
    if (this.#reading.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        this.#idle.delete(done);
        resolve();
      };
      this.#idle.add(done);
    });
  }
}

/** The reader, noting every path it is asked for. */
function recording(reader: StateReader, read: string[]): StateReader {
  return {
    readMany: (paths) => { read.push(...paths); return reader.readMany(paths); },
    readTree: (path) => { read.push(path); return reader.readTree(path); },
    list: (path) => { read.push(path); return reader.list(path); },
  };
}

function sameError(a: Error & { code?: string }, b: Error & { code?: string }): boolean {
  return a.code === b.code && a.message === b.message;
}
