// The batch reads (and listings) of a XenStore outside transactions,
// pipelined on a connection of their own to xenstored's Unix socket:
// libxenstore keeps one request in flight per handle, the wire protocol many
// (replies carry the req_id), so readMany and readTree cost about one round
// trip per window instead of one per key, and concurrent callers' requests
// overlap. Where no Unix socket can be reached (only /dev/xen/xenbus) the
// store keeps using its libxenstore handles.
import { XenStoreError } from './errors.js';
import type { XenStoreNode } from './types.js';
import { XenStoreConnection, XenStoreWireError } from './wire.js';

export class PipelinedReads {
  /** undefined until first used; resolves to undefined where no socket is reachable. */
  private connecting: Promise<XenStoreConnection | undefined> | undefined;
  /** Batches started and not yet settled: close() waits for them. */
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly socketPath: string) {}

  /** paths' values over the wire, or the fallback's where no socket is reachable. */
  readMany(paths: readonly string[], fallback: () => Promise<(string | undefined)[]>): Promise<(string | undefined)[]> {
    return this.run('xs_read', (wire) => wire.readMany(paths), fallback);
  }

  /** The subtree at path over the wire (undefined when missing), or the fallback's. */
  readTree(path: string, fallback: () => Promise<XenStoreNode | undefined>): Promise<XenStoreNode | undefined> {
    return this.run('xs_directory', (wire) => wire.readTree(path).catch(undefinedIfMissing), fallback);
  }

  /** The children of path over the wire (undefined when missing), or the fallback's. */
  list(path: string, fallback: () => Promise<string[] | undefined>): Promise<string[] | undefined> {
    return this.run('xs_directory', (wire) => wire.directory(path).catch(undefinedIfMissing), fallback);
  }

  /** Waits for the batches in flight, then closes the connection. */
  async close(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    const wire = await this.connecting;
    this.connecting = undefined;
    await wire?.close();
  }

  private connection(): Promise<XenStoreConnection | undefined> {
    return (this.connecting ??= XenStoreConnection.connect(this.socketPath).catch(() => undefined));
  }

  /** One request or batch on the wire, or by fallback; tracked for close(). */
  private run<T>(syscall: string, onWire: (wire: XenStoreConnection) => Promise<T>, fallback: () => Promise<T>): Promise<T> {
    const running = (async () => {
      const wire = await this.connection();
      if (!wire) return fallback();
      try {
        return await onWire(wire);
      } catch (error) {
        throw this.failed(wire, error, syscall);
      }
    })();
    this.inFlight.add(running);
    const forget = () => { this.inFlight.delete(running); };
    running.then(forget, forget);
    return running;
  }

  /** The wire's error as the XenStoreError libxenstore's path would raise; a lost connection is dropped. */
  private failed(wire: XenStoreConnection, error: unknown, syscall: string): unknown {
    if (error instanceof XenStoreWireError) {
      if (error.code === 'ERR_XENSTORE_CONNECTION_LOST' && this.connecting) {
        this.connecting = undefined; // the next batch connects afresh
        void wire.close().catch(() => undefined);
      }
      return new XenStoreError(`${error.code}: ${error.message}`, { code: error.code, errno: 104, syscall, cause: error });
    }
    const failure = error as NodeJS.ErrnoException;
    if (typeof failure?.code !== 'string') return error;
    return new XenStoreError(failure.message, {
      code: failure.code,
      errno: Math.abs(failure.errno ?? 0),
      syscall: failure.syscall ?? syscall,
      ...(failure.path === undefined ? {} : { path: failure.path }),
    });
  }
}

/** ENOENT of a listing or a subtree read: the node is missing, as libxenstore's callers see it. */
function undefinedIfMissing(error: unknown): undefined {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
  throw error;
}
