// XenStore: the public client. Requests go to a pool of libxenstore handles
// (see native/connection.cc), batch reads and transactions to pipelined
// connections on the socket where there is one (pipelined.ts); transactions
// rerun their whole function on EAGAIN; watches share one dedicated handle.
// When xenstored goes away the failing request says so
// (ERR_XENSTORE_CONNECTION_LOST) and the next one opens fresh connections.
import { argumentError, rangeError } from '../errors.js';
import { ANY_SLOT, MAX_POOL_SIZE, NativeOp, native, type NativeConnection } from '../native.js';
import { AbortError, XenStoreError, closedError, isXenStoreError, transactionEndedError, xenStoreError } from './errors.js';
import { StoreOps } from './ops.js';
import { isValidWatchPath, isValidXenStorePath, xenstoredSocketPath } from './protocol.js';
import { PipelinedConnections } from './pipelined.js';
import type {
  XenStoreNode,
  XenStoreOpenOptions,
  XenStoreTransaction,
  XenStoreTransactionOptions,
  XenStoreWaitOptions,
  XenStoreWaitResult,
  XenStoreWatchEvent,
  XenStoreWatchOptions,
} from './types.js';
import { unavailableError } from './unavailable.js';
import { WatchHub, WatchIterator } from './watch.js';

const DEFAULT_POOL_SIZE = 4;
const DEFAULT_WATCH_CHECK_MS = 5000;
const DEFAULT_MAX_RETRIES = 16;
const BACKOFF_BASE_MS = 1;
const BACKOFF_CAP_MS = 100;

let errorConstructorSet = false;

/** What libxenstore reports once the daemon's end of the socket is gone. */
const CONNECTION_LOST_CODES = new Set(['EPIPE', 'ECONNRESET', 'ENOTCONN', 'EBADF', 'ESHUTDOWN']);

function connectionLost(cause: XenStoreError): XenStoreError {
  return new XenStoreError(
    `ERR_XENSTORE_CONNECTION_LOST: the connection to xenstored was lost (${cause.code}, ${cause.syscall}); the next request reconnects`,
    { code: 'ERR_XENSTORE_CONNECTION_LOST', errno: cause.errno, syscall: cause.syscall, cause, ...(cause.path ? { path: cause.path } : {}) },
  );
}

function openPool(path: string | undefined, poolSize: number): NativeConnection {
  const addon = addonWithErrors();
  try {
    return new addon.Connection(path, poolSize);
  } catch (error) {
    throw unavailableError(error, path);
  }
}

export class XenStore extends StoreOps {
  /** @internal */
  protected readonly slot = ANY_SLOT;
  /** @internal */
  protected readonly tx = 0;
  private closing: Promise<void> | undefined;
  private readonly watches: WatchHub;
  /** Undefined after the connection was lost, until the next request. */
  private pool: NativeConnection | undefined;
  /** Closes of pools that lost their connection, awaited by close(). */
  private readonly retiring = new Set<Promise<void>>();
  /** Batch reads outside transactions, and transactions, with many requests in flight; undefined: libxenstore only. */
  private readonly pipelined: PipelinedConnections | undefined;

  /**
   * @param path the socket (or device) given to open(); undefined: libxenstore's default.
   */
  private constructor(pool: NativeConnection, readonly path: string | undefined, private readonly configuredPoolSize: number, pipelined: boolean, watchCheckMs: number) {
    super();
    this.pool = pool;
    this.watches = new WatchHub(addonWithErrors(), path, watchCheckMs);
    this.pipelined = pipelined ? new PipelinedConnections(path ?? xenstoredSocketPath(), () => this.retire(this.pool)) : undefined;
  }

  /** Connects to xenstored; throws ERR_XENSTORE_UNAVAILABLE saying what is missing. */
  static open(options: XenStoreOpenOptions = {}): XenStore {
    const { path, poolSize = DEFAULT_POOL_SIZE, pipelined = true, watchCheckMs = DEFAULT_WATCH_CHECK_MS } = options;
    if (path !== undefined && typeof path !== 'string') {
      throw argumentError('ERR_INVALID_ARG_TYPE', 'The "path" option must be a string');
    }
    if (!Number.isInteger(poolSize) || poolSize < 1 || poolSize > MAX_POOL_SIZE) {
      throw rangeError(`The "poolSize" option must be an integer from 1 to ${MAX_POOL_SIZE}`);
    }
    if (typeof watchCheckMs !== 'number' || !Number.isFinite(watchCheckMs) || watchCheckMs < 0) {
      throw rangeError('The "watchCheckMs" option must be a number of milliseconds >= 0');
    }
    return new XenStore(openPool(path, poolSize), path, poolSize, pipelined, watchCheckMs);
  }

  get poolSize(): number {
    return this.configuredPoolSize;
  }

  /** @internal */
  protected connection(): NativeConnection {
    if (this.closing) throw closedError();
    return (this.pool ??= openPool(this.path, this.configuredPoolSize));
  }

  /** @internal */
  protected override failed(error: unknown, connection: NativeConnection): unknown {
    // A handle the pool opens on demand finds no daemon: the same as an open() that finds none.
    if (isXenStoreError(error) && error.syscall === 'xs_open') return unavailableError(error, this.path);
    if (!isXenStoreError(error) || !CONNECTION_LOST_CODES.has(error.code)) return error;
    this.retire(connection);
    return connectionLost(error);
  }

  /** Closes a pool that lost (or shares a daemon with a connection that lost) xenstored; the next request opens a fresh one. */
  private retire(connection: NativeConnection | undefined): void {
    if (!connection || this.pool !== connection) return;
    this.pool = undefined;
    const closing = connection.close().catch(() => undefined).then(() => { this.retiring.delete(closing); });
    this.retiring.add(closing);
  }

  override readMany(paths: readonly string[]): Promise<(string | undefined)[]> {
    if (!this.batchable(paths)) return super.readMany(paths);
    return this.pipelined!.readMany(paths, () => super.readMany(paths));
  }

  override readTree(path: string): Promise<XenStoreNode | undefined> {
    if (!this.batchable([path])) return super.readTree(path);
    return this.pipelined!.readTree(path, () => super.readTree(path));
  }

  override list(path: string): Promise<string[] | undefined> {
    if (!this.batchable([path])) return super.list(path);
    return this.pipelined!.list(path, () => super.list(path));
  }

  /** Whether a batch may go on the wire: well-formed paths (errors come from the checks of StoreOps otherwise). */
  private batchable(paths: readonly string[]): boolean {
    if (this.closing || !this.pipelined || !Array.isArray(paths)) return false;
    return paths.every((path) => typeof path === 'string' && isValidXenStorePath(path));
  }

  getDomainPath(domid: number): Promise<string> {
    return this.request(NativeOp.getDomainPath, undefined, domid);
  }

  getDomainPathSync(domid: number): string {
    return this.requestSync(NativeOp.getDomainPath, undefined, domid);
  }

  isDomainIntroduced(domid: number): Promise<boolean> {
    return this.request(NativeOp.isDomainIntroduced, undefined, domid);
  }

  isDomainIntroducedSync(domid: number): boolean {
    return this.requestSync(NativeOp.isDomainIntroduced, undefined, domid);
  }

  /**
   * Runs fn inside a xenstore transaction and commits it. On EAGAIN (a
   * conflicting commit, reported at commit or by any request) the whole fn
   * runs again after a short jittered backoff, at most maxRetries more times.
   * If fn throws, the transaction is aborted and the error rethrown.
   */
  async transaction<T>(fn: (tx: XenStoreTransaction) => Promise<T>, options: XenStoreTransactionOptions = {}): Promise<T> {
    const { maxRetries = DEFAULT_MAX_RETRIES, signal, pipelined = true } = options;
    if (!Number.isInteger(maxRetries) || maxRetries < 0) {
      throw rangeError('The "maxRetries" option must be a non-negative integer');
    }
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw new AbortError(signal);
      const tx = (pipelined && !this.closing && await this.pipelined?.startTransaction()) || await this.startLibxenstoreTransaction();
      let result: T;
      try {
        result = await fn(tx);
        if (signal?.aborted) throw new AbortError(signal);
      } catch (error) {
        await tx.end(true).catch(() => undefined);  // the error that matters is fn's
        if (!isConflict(error)) throw error;
        if (attempt > maxRetries) throw gaveUp(error, attempt);
        await backoff(attempt, signal);
        continue;
      }
      try {
        await tx.end(false);
        return result;
      } catch (error) {
        if (!isXenStoreError(error, 'EAGAIN')) throw error;
        if (attempt > maxRetries) throw gaveUp(error, attempt);
        await backoff(attempt, signal);
      }
    }
  }

  /** A transaction on a libxenstore handle of the pool. */
  private async startLibxenstoreTransaction(): Promise<Transaction> {
    const pool = this.connection();
    const [slot, id] = await this.request(NativeOp.transactionStart, undefined);
    // The transaction lives on the pool it started on, even if a lost
    // connection has replaced the store's pool since.
    return new Transaction(() => {
      if (this.closing) throw closedError();
      return pool;
    }, (error, connection) => this.failed(error, connection), slot, id);
  }

  /**
   * Waits until done(value) holds for the node's value (undefined: missing),
   * checked at once and at each change of the node or below it, for at most
   * timeoutMs; aborting the signal rejects with an AbortError. On the
   * pipelined connection where there is one (its watch and first read go out
   * together, and nothing waits for the unwatch), else with watch().
   */
  async waitFor(path: string, done: (value: string | undefined) => boolean, options: XenStoreWaitOptions): Promise<XenStoreWaitResult> {
    const { timeoutMs, signal } = options;
    if (typeof timeoutMs !== 'number' || !(timeoutMs >= 0)) throw rangeError('The "timeoutMs" option must be a number of milliseconds >= 0');
    if (typeof path !== 'string' || !isValidXenStorePath(path)) throw xenStoreError('EINVAL', 'xs_watch', String(path), { reason: 'not a valid absolute xenstore path' });
    if (signal?.aborted) throw new AbortError(signal);
    const onWire = this.pipelined && !this.closing ? await this.pipelined.waitFor(path, done, timeoutMs, signal) : undefined;
    return onWire ?? this.waitWithWatch(path, done, timeoutMs, signal);
  }

  private async waitWithWatch(path: string, done: (value: string | undefined) => boolean, timeoutMs: number, signal: AbortSignal | undefined): Promise<XenStoreWaitResult> {
    // The timeout and the caller's abort end the loop; which of them it was is told below.
    const events = this.watch(path);
    const stop = () => { void events.return?.(); };
    const timer = setTimeout(stop, timeoutMs);
    signal?.addEventListener('abort', stop, { once: true });
    try {
      for await (const _event of events) {
        const value = await this.read(path);
        if (done(value)) return { reached: true, value };
      }
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', stop);
    }
    if (signal?.aborted) throw new AbortError(signal);
    return { reached: false };
  }

  /**
   * Watches path and everything below it. The daemon fires once at once
   * (the initial event). Leaving the loop ends the iteration cleanly; an
   * aborted signal rejects it with an AbortError, as Node's own iterators do.
   */
  watch(path: string, options: XenStoreWatchOptions = {}): AsyncIterableIterator<XenStoreWatchEvent> {
    if (this.closing) throw closedError('xs_watch');
    if (typeof path !== 'string') {
      throw argumentError('ERR_INVALID_ARG_TYPE', 'The "path" argument must be a string');
    }
    if (!isValidWatchPath(path)) throw xenStoreError('EINVAL', 'xs_watch', path, { reason: 'not a valid watch path' });
    const token = options.token ?? this.watches.uniqueToken();
    return new WatchIterator(this.watches, path, token, options.signal);
  }

  /** Refuses new requests, ends watches, waits for in-flight requests, closes the handles. */
  close(): Promise<void> {
    if (!this.closing) {
      this.watches.close();
      this.closing = Promise.all([this.pool?.close(), this.pipelined?.close(), ...this.retiring]).then(() => undefined);
    }
    return this.closing;
  }

  /** `await using store = XenStore.open()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The addon, with XenStoreError handed to it once. */
function addonWithErrors() {
  const addon = native();
  if (!errorConstructorSet) {
    addon.setErrorConstructor(XenStoreError);
    errorConstructorSet = true;
  }
  return addon;
}

class Transaction extends StoreOps implements XenStoreTransaction {
  private ended = false;

  constructor(
    private readonly storeConnection: () => NativeConnection,
    private readonly storeFailed: (error: unknown, connection: NativeConnection) => unknown,
    protected readonly slot: number,
    readonly id: number,
  ) {
    super();
  }

  protected override failed(error: unknown, connection: NativeConnection): unknown {
    return this.storeFailed(error, connection);
  }

  protected connection(): NativeConnection {
    if (this.ended) throw transactionEndedError(this.id);
    return this.storeConnection();
  }

  protected get tx(): number {
    return this.id;
  }

  /** Commits, or aborts with abort = true. Later requests throw. */
  end(abort: boolean): Promise<void> {
    const request = this.request(NativeOp.transactionEnd, undefined, abort);
    this.ended = true;
    return request;
  }
}

/**
 * A request that failed because another connection's commit changed what the
 * transaction sees: EAGAIN, or EIO / EINVAL from xs_rm. C xenstored reads what
 * a transaction has not written itself from the live store, so an rm whose
 * subtree another commit has just cut into finds a listed child missing
 * (EIO), and an rm of a node the transaction wrote whose parent another
 * commit removed finds no parent (EINVAL; paths are checked before they
 * cross, so it is not a bad path).
 */
function isConflict(error: unknown): error is XenStoreError {
  if (isXenStoreError(error, 'EAGAIN')) return true;
  return isXenStoreError(error) && error.syscall === 'xs_rm' && (error.code === 'EIO' || error.code === 'EINVAL');
}

function gaveUp(error: XenStoreError, attempts: number): XenStoreError {
  const final = new XenStoreError(`EAGAIN: transaction still conflicting after ${attempts} attempts`, {
    code: 'EAGAIN',
    errno: error.errno,
    syscall: error.syscall,
    cause: error,
    ...(error.path !== undefined ? { path: error.path } : {}),
  });
  final.attempts = attempts;
  return final;
}

/** Full jitter: a random wait up to min(cap, base · 2^attempt). */
function backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
  const ms = Math.random() * Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** attempt);
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(new AbortError(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
