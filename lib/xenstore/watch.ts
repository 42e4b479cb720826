// Watches: one native watcher handle per XenStore, shared by every watch()
// iterator. Events are dispatched by token to the iterators whose path
// covers the event path. An iterator keeps at most one pending event per
// path: a consumer that falls behind re-reads the node anyway, and a guest
// writing in a loop cannot grow the queue without bound.
//
// libxenstore never wakes a watch handle whose daemon went away (its reader
// thread closes the socket silently), so the hub also keeps an idle
// connection of its own to xenstored's Unix socket: when the daemon closes
// it, every iterator fails with ERR_XENSTORE_CONNECTION_LOST and ends, and
// the next watch() opens a fresh handle. Where there is no Unix socket
// (/dev/xen/xenbus) there is no such sentinel. A connection dropped alone
// (the daemon still serving others) shows at the handle's next request, so
// while watches are set one is made every checkMs: the unwatch of a watch
// that does not exist, answered ENOENT while the connection lives.
import { createConnection, type Socket } from 'node:net';
import type { NativeAddon, NativeWatcher } from '../native.js';
import { AbortError, XenStoreError } from './errors.js';
import { errnoOf, isSubpath, xenstoredSocketPath } from './protocol.js';
import { unavailableError } from './unavailable.js';
import type { XenStoreWatchEvent } from './types.js';

/** What a watch handle reports when xenstored went away while a watch was being set. */
const LOST_ON_WATCH = new Set(['EINVAL', 'EPIPE', 'ECONNRESET', 'ENOTCONN', 'EBADF', 'ESHUTDOWN']);

export class WatchHub {
  private watcher: NativeWatcher | undefined;
  private sentinel: Socket | undefined;
  private checkTimer: NodeJS.Timeout | undefined;
  private readonly byToken = new Map<string, Set<WatchIterator>>();
  private nextToken = 0;
  private readonly checkToken = `xen-domconfig/${process.pid}/connection-check`;

  constructor(
    private readonly addon: NativeAddon,
    private readonly socketPath: string | undefined,
    private readonly checkMs: number,
  ) {}

  uniqueToken(): string {
    return `xen-domconfig/${process.pid}/${this.nextToken++}`;
  }

  /** Registers the watch with xenstored; the daemon fires it once at once. */
  subscribe(iterator: WatchIterator): void {
    if (!this.watcher) {
      try {
        this.watcher = new this.addon.Watcher(this.socketPath, (events, error) => this.dispatch(events, error));
      } catch (error) {
        throw unavailableError(error, this.socketPath); // no daemon to watch with, as XenStore.open says
      }
      this.watchDaemon();
      if (this.checkMs > 0) this.checkTimer = setInterval(() => this.checkConnection(), this.checkMs).unref();
    }
    try {
      this.watcher.watch(iterator.path, iterator.token);
    } catch (error) {
      throw this.refused(error, iterator.path);
    }
    let set = this.byToken.get(iterator.token);
    if (!set) this.byToken.set(iterator.token, (set = new Set()));
    set.add(iterator);
  }

  unsubscribe(iterator: WatchIterator): void {
    const set = this.byToken.get(iterator.token);
    if (!set?.delete(iterator)) return;
    if (set.size === 0) this.byToken.delete(iterator.token);
    this.watcher!.unwatch(iterator.path, iterator.token);
  }

  /** Ends every iterator and closes the watch handle. */
  close(): void {
    for (const set of [...this.byToken.values()]) for (const iterator of set) iterator.end();
    this.byToken.clear();
    this.closeHandles();
  }

  private closeHandles(): void {
    clearInterval(this.checkTimer);
    this.checkTimer = undefined;
    this.sentinel?.destroy();
    this.sentinel = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  /**
   * The error for a watch the handle could not set. Its path was checked, so EINVAL
   * (libxenstore's word for a reply that is not "OK", as when the daemon dies in the
   * middle) and the socket errors mean the connection is gone: every watch ends with
   * ERR_XENSTORE_CONNECTION_LOST and the next one opens a fresh handle.
   */
  private refused(error: unknown, path: string): unknown {
    if (!(error instanceof XenStoreError) || !LOST_ON_WATCH.has(error.code)) return error;
    const lost = new XenStoreError(
      `ERR_XENSTORE_CONNECTION_LOST: the watch connection failed (${error.code}); it was lost`,
      { code: 'ERR_XENSTORE_CONNECTION_LOST', errno: error.errno ?? errnoOf('ECONNRESET'), syscall: 'xs_watch', path, cause: error },
    );
    this.failAll(lost);
    return lost;
  }

  /** One request on the watch handle's connection: ENOENT while it lives. */
  private checkConnection(): void {
    if (!this.watcher || this.byToken.size === 0) return;
    try {
      this.watcher.unwatch('@releaseDomain', this.checkToken);
    } catch (error) {
      if (!(error instanceof XenStoreError && error.code === 'ENOENT')) this.refused(error, '@releaseDomain');
    }
  }

  /** Fails every iterator with error; the next subscribe starts afresh. */
  private failAll(error: Error): void {
    const iterators = [...this.byToken.values()].flatMap((set) => [...set]);
    this.byToken.clear();
    this.closeHandles();
    for (const iterator of iterators) iterator.fail(error);
  }

  /** Opens the idle sentinel connection; its close means the daemon is gone. */
  private watchDaemon(): void {
    const path = this.socketPath ?? xenstoredSocketPath();
    const socket = createConnection(path);
    socket.unref();
    let connected = false;
    socket.once('connect', () => { connected = true; });
    socket.on('error', () => undefined); // not a socket (xenbus) or refused: no sentinel; close follows
    socket.once('close', () => {
      if (this.sentinel !== socket) return;
      this.sentinel = undefined;
      if (!connected) return;
      this.failAll(new XenStoreError(
        `ERR_XENSTORE_CONNECTION_LOST: xenstored closed its connection (${path}); watches have ended`,
        { code: 'ERR_XENSTORE_CONNECTION_LOST', errno: errnoOf('ECONNRESET'), syscall: 'xs_watch', path },
      ));
    });
    socket.on('data', () => undefined); // xenstored never writes to an idle connection
    this.sentinel = socket;
  }

  private dispatch(events: string[] | null, error?: Error): void {
    if (events) this.deliver(events);
    if (error) this.failAll(error);
  }

  private deliver(events: string[]): void {
    for (let i = 0; i < events.length; i += 2) {
      const path = events[i]!;
      const token = events[i + 1]!;
      for (const iterator of this.byToken.get(token) ?? []) {
        if (isSubpath(iterator.path, path)) iterator.push({ path, token });
      }
    }
  }
}

type Waiter = { resolve(result: IteratorResult<XenStoreWatchEvent>): void; reject(error: unknown): void };

export class WatchIterator implements AsyncIterableIterator<XenStoreWatchEvent> {
  private readonly queue: XenStoreWatchEvent[] = [];
  private readonly queuedPaths = new Set<string>();
  private waiter: Waiter | undefined;
  private error: unknown;
  private finished = false;
  // As Node's events.on and fs.promises.watch: an aborted signal rejects the pending or next next().
  private readonly onAbort = () => this.fail(new AbortError(this.signal!));

  constructor(
    private readonly hub: WatchHub,
    readonly path: string,
    readonly token: string,
    private readonly signal: AbortSignal | undefined,
  ) {
    if (signal?.aborted) {
      this.error = new AbortError(signal);
      this.finished = true;
      return;
    }
    try {
      hub.subscribe(this);
    } catch (error) {
      this.error = error;
      this.finished = true;
      return;
    }
    signal?.addEventListener('abort', this.onAbort, { once: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  next(): Promise<IteratorResult<XenStoreWatchEvent>> {
    const event = this.queue.shift();
    if (event) {
      this.queuedPaths.delete(event.path);
      return Promise.resolve({ value: event, done: false });
    }
    if (this.error !== undefined) {
      const error = this.error;
      this.error = undefined;
      return Promise.reject(error);
    }
    if (this.finished) return Promise.resolve({ value: undefined, done: true });
    if (this.waiter) return Promise.reject(new XenStoreError('ERR_XENSTORE_WATCH_BUSY: next() called while a previous next() is pending', { code: 'ERR_XENSTORE_WATCH_BUSY', errno: 0, syscall: 'watch', path: this.path }));
    return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
  }

  /** Leaving a for-await loop (break, return, throw) removes the watch. */
  return(): Promise<IteratorResult<XenStoreWatchEvent>> {
    this.end();
    return Promise.resolve({ value: undefined, done: true });
  }

  push(event: XenStoreWatchEvent): void {
    if (this.finished) return;
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve({ value: event, done: false });
      return;
    }
    if (this.queuedPaths.has(event.path)) return;
    this.queuedPaths.add(event.path);
    this.queue.push(event);
  }

  fail(error: unknown): void {
    if (this.finished) return;
    this.stop();
    if (this.waiter) {
      const { reject } = this.waiter;
      this.waiter = undefined;
      reject(error);
    } else {
      this.error = error;
    }
  }

  /** Ends cleanly: pending and later next() calls report done. */
  end(): void {
    if (this.finished) return;
    this.stop();
    this.queue.length = 0;
    this.queuedPaths.clear();
    if (this.waiter) {
      const { resolve } = this.waiter;
      this.waiter = undefined;
      resolve({ value: undefined, done: true });
    }
  }

  private stop(): void {
    this.finished = true;
    this.signal?.removeEventListener('abort', this.onAbort);
    try {
      this.hub.unsubscribe(this);
    } catch {
      // The daemon or the handle is gone: nothing is left to unwatch.
    }
  }
}
