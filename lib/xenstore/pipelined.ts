// The batch reads (and listings) of a XenStore outside transactions, and its
// transactions, pipelined on a connection of their own to xenstored's Unix
// socket: libxenstore keeps one request in flight per handle, the wire
// protocol many (replies carry the req_id), so readMany and readTree cost
// about one round trip per window instead of one per key, a transaction's
// batch of writes one instead of one per write, and concurrent callers'
// requests overlap. C xenstored answers one request per connection per turn
// of its poll loop, so under load the batches spread over a second
// connection (opened only once the first is busy): fewer loop turns per
// request, while each further one costs the client a socket write and read of
// its own for fewer requests (bench/README.md). Where no Unix socket can be
// reached (only /dev/xen/xenbus) the store keeps using its libxenstore
// handles. Callers pass only paths isValidXenStorePath accepts (XenStore and
// WireTransaction check them before they pick the wire), so the connections
// do not check them again.
import { AbortError, isXenStoreError } from './errors.js';
import type { XenStoreNode } from './protocol.js';
import type { XenStoreWaitResult } from './types.js';
import { XenStoreWireClient } from './wire-client.js';
import { WireTransaction } from './wire-transaction.js';

/** Most connections one store opens for its batches. */
const MAX_CONNECTIONS = 2;
/** Requests queued on each open connection before another is opened. */
const BUSY_PENDING = 64;
/** Transactions open at once on one connection: below xenstored's quota of 10 (C and OCaml daemons alike). */
const MAX_TRANSACTIONS = 8;
/** Watches set at once on one connection: below xenstored's quota of 128 (C xenstored). */
const MAX_WATCHES = 100;

interface Slot {
  /** Resolves to undefined when the first connection finds no socket. */
  ready: Promise<XenStoreWireClient | undefined>;
  wire?: XenStoreWireClient;
}

export class PipelinedConnections {
  private slots: Slot[] = [];
  private nextWaitToken = 0;
  /** Open transactions per connection. */
  private readonly transactions = new Map<XenStoreWireClient, number>();
  /** Lowered when an extra connection fails (xenstored's listen backlog, its connection quota). */
  private maxConnections = MAX_CONNECTIONS;
  /** Batches started and not yet settled: close() waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  /** onLost: called when a connection is found lost, so the store's other handles reconnect too. */
  constructor(private readonly socketPath: string, private readonly onLost: () => void) {}

  /** paths' values over the wire, or the fallback's where no socket is reachable. */
  readMany(paths: readonly string[], fallback: () => Promise<(string | undefined)[]>): Promise<(string | undefined)[]> {
    return this.run((wire) => wire.readMany(paths), fallback);
  }

  /** The subtree at path over the wire (undefined when missing), or the fallback's. */
  readTree(path: string, fallback: () => Promise<XenStoreNode | undefined>): Promise<XenStoreNode | undefined> {
    return this.run((wire) => wire.readTree(path).catch(undefinedIfMissing), fallback);
  }

  /** The children of path over the wire (undefined when missing), or the fallback's. */
  list(path: string, fallback: () => Promise<string[] | undefined>): Promise<string[] | undefined> {
    return this.run((wire) => wire.directory(path).catch(undefinedIfMissing), fallback);
  }

  /**
   * A transaction started on the least busy connection; undefined where no
   * socket is reachable or that connection holds its most transactions (the
   * caller then uses libxenstore).
   */
  async startTransaction(): Promise<WireTransaction | undefined> {
    const chosen = this.connection();
    const wire = chosen instanceof Promise ? await chosen : chosen;
    const open = wire ? this.transactions.get(wire) ?? 0 : 0;
    if (!wire || open >= MAX_TRANSACTIONS) return undefined;
    this.transactions.set(wire, open + 1);
    const ended = () => {
      const left = (this.transactions.get(wire) ?? 1) - 1;
      if (left > 0) this.transactions.set(wire, left);
      else this.transactions.delete(wire);
    };
    try {
      return new WireTransaction(wire, await this.track(wire.transactionStart()), {
        track: (request) => this.track(request.catch((error: unknown) => { throw this.failed(wire, error); })),
        ended,
      });
    } catch (error) {
      ended();
      throw this.failed(wire, error);
    }
  }

  /**
   * Waits until done(path's value) holds, checked at once and at each change;
   * undefined where no socket is reachable or the connection holds its most
   * watches (the caller then waits with a libxenstore watch). The watch and
   * the first read go out together: a change after that read fires an event.
   */
  async waitFor(path: string, done: (value: string | undefined) => boolean, timeoutMs: number, signal: AbortSignal | undefined): Promise<XenStoreWaitResult | undefined> {
    const chosen = this.connection();
    const wire = chosen instanceof Promise ? await chosen : chosen;
    if (!wire || wire.watchCount >= MAX_WATCHES) return undefined;
    const token = `xen-domconfig/${process.pid}/wait/${this.nextWaitToken++}`;
    let changed = false;
    let wake: (() => void) | undefined;
    const onChange = () => {
      changed = true;
      wake?.();
    };
    // The timer's own flag, not the clock: a timer may fire a little before Date.now() reaches its deadline.
    let timedOut = false;
    const expired = () => signal?.aborted === true || timedOut;
    const timer = setTimeout(() => {
      timedOut = true;
      onChange();
    }, timeoutMs);
    signal?.addEventListener('abort', onChange, { once: true });
    try {
      const watching = this.track(wire.watch(path, token, onChange));
      for (;;) {
        changed = false;
        const [value] = await this.track(wire.readMany([path]));
        if (done(value)) return { reached: true, value };
        while (!changed) await new Promise<void>((resolve) => { wake = resolve; });
        await watching;
        if (expired()) break;
      }
    } catch (error) {
      throw this.failed(wire, error);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onChange);
      // Not awaited: the next request on the connection does not wait for it.
      this.track(wire.unwatch(path, token)).catch(() => undefined);
    }
    if (signal?.aborted) throw new AbortError(signal);
    return { reached: false };
  }

  /** Waits for the batches in flight, then closes the connection. */
  async close(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    const slots = this.slots;
    this.slots = [];
    await Promise.all(slots.map(async (slot) => (await slot.ready)?.close()));
  }

  /**
   * The least busy open connection (another is opened in the background while
   * every open one is busy); only the first batch waits for a connect.
   */
  private connection(): XenStoreWireClient | Promise<XenStoreWireClient | undefined> {
    // A connection seen to end since its last request (xenstored went away) is replaced at once.
    for (const slot of this.slots) if (slot.wire?.ended) this.lost(slot.wire);
    let idlest: XenStoreWireClient | undefined;
    let connecting: Slot | undefined;
    for (const slot of this.slots) {
      if (!slot.wire) connecting ??= slot;
      else if (!idlest || slot.wire.pending < idlest.pending) idlest = slot.wire;
    }
    if (!idlest) return (connecting ?? this.connect()).ready;
    if (idlest.pending >= BUSY_PENDING && !connecting && this.slots.length < this.maxConnections) this.connect();
    return idlest;
  }

  private connect(): Slot {
    const slot: Slot = {
      ready: XenStoreWireClient.connect(this.socketPath, { pathsChecked: true }).then((wire) => {
        slot.wire = wire;
        return wire;
      }, () => {
        if (this.slots[0] === slot) return undefined; // no socket: the fallback serves every batch
        this.slots = this.slots.filter((other) => other !== slot);
        this.maxConnections = this.slots.length;
        return undefined;
      }),
    };
    this.slots.push(slot);
    return slot;
  }

  /** One request or batch on the wire, or by fallback; tracked for close(). */
  private run<T>(onWire: (wire: XenStoreWireClient) => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    const start = (wire: XenStoreWireClient | undefined): Promise<T> => {
      if (!wire) return fallback();
      return onWire(wire).catch((error: unknown) => { throw this.failed(wire, error); });
    };
    // An open connection takes the batch at once, so the next pick sees its queue.
    const chosen = this.connection();
    return this.track(chosen instanceof Promise ? chosen.then(start) : start(chosen));
  }

  /** Keeps a request in flight for close() to wait for. */
  private track<T>(running: Promise<T>): Promise<T> {
    this.inFlight.add(running);
    const forget = () => { this.inFlight.delete(running); };
    running.then(forget, forget);
    return running;
  }

  private drop(wire: XenStoreWireClient): void {
    const before = this.slots.length;
    this.slots = this.slots.filter((slot) => slot.wire !== wire);
    if (this.slots.length < before) void wire.close().catch(() => undefined);
  }

  /** Later batches connect afresh, and so do the store's libxenstore handles. */
  private lost(wire: XenStoreWireClient): void {
    if (!this.slots.some((slot) => slot.wire === wire)) return;
    this.drop(wire);
    this.onLost();
  }

  /** The wire's error, already the one libxenstore's path would raise; a lost connection is dropped. */
  private failed(wire: XenStoreWireClient, error: unknown): unknown {
    if (isXenStoreError(error, 'ERR_XENSTORE_CONNECTION_LOST')) this.lost(wire);
    return error;
  }
}

/** ENOENT of a listing or a subtree read: the node is missing, as libxenstore's callers see it. */
function undefinedIfMissing(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw error;
}
