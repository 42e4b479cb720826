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
import { DEFAULT_LIST_CONCURRENCY, listDomids, type LongListEntry } from '../domain/list.js';
import { retrieveDomain, type RetrieveContext, type RetrieveOptions } from '../domain/retrieve.js';
import { domainPaths, watchRoots, type StateReader } from '../domain/state.js';
import { XenDomconfigError, rangeError } from '../errors.js';
import { MAX_DOMID } from '../xen.js';
import { jsonable } from '../util/json.js';
import { MirrorSubscribers, type MirrorEvent, type MirrorEventsOptions } from './events.js';
import { TemplateFolderWatch } from './folder.js';
import { MirrorWatches } from './watches.js';

export type { MirrorEvent, MirrorEventsOptions };

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

export class ConfigMirror implements AsyncIterable<MirrorEvent>, AsyncDisposable {
  /** Resolves once every domain has been read (rejects if the mirror is closed first). */
  readonly ready: Promise<void>;
  #state: MirrorState = 'starting';
  #staleReason: Error | undefined;
  readonly #context: RetrieveContext;
  readonly #watches: MirrorWatches;
  readonly #concurrency: number;
  readonly #records = new Map<number, DomainRecord>();
  readonly #marked = new Set<number>();
  readonly #reading = new Set<number>();
  readonly #readAgain = new Set<number>();
  readonly #subscribers = new MirrorSubscribers({
    ready: () => this.ready,
    domids: () => [...this.#records.keys()].sort((a, b) => a - b),
    entry: (domid) => this.#records.get(domid)?.entry,
    stateEvent: () => this.#stateEvent(),
  });
  readonly #idle = new Set<() => void>();
  #folder: TemplateFolderWatch | undefined;
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
    this.#watches = new MirrorWatches(context.xenstore, (reason) => this.#lost(reason));
    this.#concurrency = options.concurrency ?? DEFAULT_LIST_CONCURRENCY;
    this.#folderCheckMs = options.folderCheckMs ?? DEFAULT_FOLDER_CHECK_MS;
    this.#retrieveOptions = options.lockTimeoutMs === undefined ? {} : { lockTimeoutMs: options.lockTimeoutMs };
    if (!Number.isInteger(this.#concurrency) || this.#concurrency < 1) {
      throw rangeError('concurrency must be a positive integer');
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
    return this.#subscribers.open(options, this.#state === 'closed');
  }

  /** Stops watching; pending and later event reads end. Waits for reads in flight. */
  async close(): Promise<void> {
    if (this.#state !== 'closed') {
      this.#state = 'closed';
      this.#signal?.removeEventListener('abort', this.#onAbort);
      this.#epoch++;
      clearTimeout(this.#retryTimer);
      this.#dropWatches();
      this.#marked.clear();
      this.#synced?.();
      this.#rejectReady(new XenDomconfigError('ERR_MIRROR_CLOSED', 'the mirror was closed before it was ready'));
      this.#subscribers.endAll();
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

  #setState(state: 'current' | 'stale', reason?: Error): void {
    if (this.#state === 'closed' || this.#state === state) return;
    const wasStarting = this.#state === 'starting';
    this.#state = state;
    this.#staleReason = reason;
    this.#resolveReady(); // no-op after the first time (or after a rejection)
    if (!wasStarting) this.#subscribers.publish('state', undefined);
  }

  #store(domid: number, entry: LongListEntry | undefined): void {
    const before = this.#records.get(domid)?.entry;
    if (entry) this.#records.set(domid, { entry: jsonable(entry) });
    else this.#records.delete(domid);
    // Before ready, list() is the news: events are the changes after it.
    if (before === entry || this.#state === 'starting') return;
    this.#subscribers.publish(domid, before);
  }

  // ---------------------------------------------------------------- sources

  #dropWatches(): void {
    this.#watches.dropAll();
    this.#folder?.close();
    this.#folder = undefined;
  }

  /** The host's own watches and the userdata folder's (again after a loss). */
  async #watchHost(): Promise<void> {
    for (const path of SPECIAL_WATCHES) this.#watches.watch('host', path, () => this.#relist());
    this.#folder = new TemplateFolderWatch({
      dir: this.#context.templates.dir,
      checkMs: this.#folderCheckMs,
      onTemplate: (domid) => this.#mark(domid),
      onLost: (reason) => this.#lost(reason),
    });
    await this.#folder.start();
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
      if (!this.#watches.has(domid)) for (const path of watchRoots(domid)) this.#watches.watch(domid, path, () => this.#mark(domid));
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
        this.#watches.unwatch(domid);
        this.#store(domid, undefined);
        return;
      }
      // What this read read is what to watch; a path not watched during the read means reading again.
      const roots = watchRoots(domid, read.length > 0 ? read : undefined);
      const before = this.#watches.paths(domid);
      for (const path of roots) this.#watches.watch(domid, path, () => this.#mark(domid));
      if (roots.some((path) => !before.has(path))) this.#readAgain.add(domid);
      this.#watches.unwatch(domid, new Set(roots));
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
