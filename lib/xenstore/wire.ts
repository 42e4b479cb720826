// A pipelined xenstore client speaking the wire protocol (xs_wire.h) on
// xenstored's Unix socket. libxenstore keeps one request in flight per handle;
// xenstored matches replies by req_id and answers many requests in flight, so
// a batch costs one round trip per window instead of one per request. The
// connection and its framing; wire-client.ts adds a method per request type.
// Where no Unix socket is reachable (a guest with only /dev/xen/xenbus)
// connect() fails with ERR_XENSTORE_NO_SOCKET and callers use libxenstore. A
// failed request raises the XenStoreError the addon raises for it.
import { createConnection, type Socket } from 'node:net';
import { endianness } from 'node:os';
import { AbortError, refusedRequest, xenStoreError, type XenStoreError } from './errors.js';
import { xenstoredSocketPath, xsCall, xsErrorCode, XsType, XENSTORE_PAYLOAD_MAX, type XenStoreNode } from './protocol.js';
import {
  decodeNames, DirectoryPartListing, failureError, ReadManySink, Request, requestError, SingleSink, TreeWalk,
  type ConnectionFailure, type Decoder, type ListDone, type ReplySink, type RequestQueue,
} from './requests.js';

export type { Decoder };

const HEADER_SIZE = 16;
/**
 * Largest reply accepted. Requests stay within XENSTORE_PAYLOAD_MAX, but
 * oxenstored answers a DIRECTORY of a big node in one reply beyond it.
 */
const MAX_REPLY_PAYLOAD = 1 << 20;
const DEFAULT_WINDOW = 256;
/** Bytes one socket read may bring. */
const RECEIVE_BUFFER_SIZE = 64 * 1024;
/** Connect attempts while xenstored's listen queue is full (about 0.4 s in all). */
const CONNECT_ATTEMPTS = 20;

/** A tx_id header value: 0 (none) or an id from transactionStart. */
function isTransactionId(txId: number): boolean {
  return Number.isInteger(txId) && txId >= 0 && txId <= 0xffffffff;
}

/** Header fields are u32 in the host's byte order (xs_wire.h). */
const LITTLE_ENDIAN = endianness() === 'LE';

function viewOf(buffer: Buffer): DataView {
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

// ---------------------------------------------------------------- connection

/** Where a socket's reads go: bytes [0, length) of `buffer`, which the next read reuses. */
interface ReadTarget {
  readonly buffer: Buffer;
  onRead?: (length: number) => void;
}

function connectSocket(socketPath: string, signal: AbortSignal | undefined, target: ReadTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(new AbortError(signal));
      return;
    }
    // Reads land in one buffer of the connection's own and are handed over at
    // once: no Buffer and no 'data' event per read.
    const socket = createConnection({
      path: socketPath,
      onread: { buffer: target.buffer, callback: (length) => { target.onRead!(length); return true; } },
    });
    const onAbort = (): void => {
      socket.destroy();
      reject(new AbortError(signal!));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      signal?.removeEventListener('abort', onAbort);
      reject(xenStoreError('ERR_XENSTORE_NO_SOCKET', 'connect', socketPath, {
        reason: `no xenstored socket (${error.code ?? error.message})`, errno: Math.abs(error.errno ?? 0), cause: error,
      }));
    });
    socket.once('connect', () => {
      signal?.removeEventListener('abort', onAbort);
      socket.removeAllListeners('error');
      resolve(socket);
    });
  });
}

export interface XenStoreConnectOptions {
  signal?: AbortSignal;
  /** Most requests in flight at once (default 256). */
  window?: number;
  /** Every path given is one isValidXenStorePath accepts (the caller checked): not checked again. */
  pathsChecked?: boolean;
}

export class XenStoreConnection {
  private readonly window: number;
  private readonly pathsChecked: boolean;
  private readonly inFlight = new Map<number, Request>();
  private readonly queue: Request[] = [];
  private queueHead = 0;
  private lastReqId = 0;
  private pumpScheduled = false;
  /** The socket keeps the event loop alive only while requests are in flight. */
  private referenced = false;
  private failure: ConnectionFailure | undefined;
  /** Holds one message split across socket reads; grows for oxenstored's larger replies. */
  private partial = Buffer.allocUnsafe(HEADER_SIZE + XENSTORE_PAYLOAD_MAX);
  private partialView = viewOf(this.partial);
  private partialLength = 0;
  private readonly closed: Promise<void>;
  private readonly requests: RequestQueue = {
    enqueue: (request) => this.enqueue(request),
    listChildren: (path, txId, done) => this.listChildren(path, txId, done),
  };

  protected constructor(private readonly socket: Socket, readonly socketPath: string, target: ReadTarget, options: XenStoreConnectOptions) {
    this.window = Math.max(1, Math.floor(options.window ?? DEFAULT_WINDOW));
    this.pathsChecked = options.pathsChecked === true;
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    // An idle connection does not keep the process alive, as idle keep-alive sockets of Node's HTTP agents do not.
    socket.unref();
    const received = target.buffer;
    const receivedView = viewOf(received);
    target.onRead = (length) => this.onData(received, receivedView, length);
    socket.on('error', (error) => this.fail({
      code: 'ERR_XENSTORE_CONNECTION_LOST', detail: `xenstored connection ${socketPath} failed: ${error.message}`, cause: error }));
    socket.on('close', () => this.fail({
      code: 'ERR_XENSTORE_CONNECTION_LOST', detail: `xenstored closed the connection ${socketPath}` }));
  }

  /**
   * Connects to xenstored's Unix socket (default: as libxenstore finds it). xenstored listens
   * with a backlog of 1, so a busy listen queue (EAGAIN) is retried briefly, where
   * libxenstore's blocking connect would wait.
   */
  static async connect(socketPath: string = xenstoredSocketPath(), options: XenStoreConnectOptions = {}): Promise<XenStoreConnection> {
    const target: ReadTarget = { buffer: Buffer.allocUnsafe(RECEIVE_BUFFER_SIZE) }; // a failed attempt's socket is gone
    for (let attempt = 1; ; attempt++) {
      try {
        return new this(await connectSocket(socketPath, options.signal, target), socketPath, target, options);
      } catch (error) {
        const busy = ((error as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'EAGAIN';
        if (!busy || attempt === CONNECT_ATTEMPTS) throw error;
        await new Promise((resolve) => setTimeout(resolve, attempt * 2));
      }
    }
  }

  /** A watch event, and the end of the connection: the subclass that sets watches says where they go. */
  protected onWatchEvent(_path: string, _token: string): void {}
  protected onEnded(): void {}

  /** Whether the connection has ended (lost, failed or closed): every request now fails. */
  get ended(): boolean {
    return this.failure !== undefined;
  }

  /** Requests sent and not yet answered plus those waiting for the window. */
  get pending(): number {
    return this.inFlight.size + this.queue.length - this.queueHead;
  }

  /** Closes the socket; requests still pending reject with ERR_XENSTORE_CLOSED. */
  async close(): Promise<void> {
    this.fail({ code: 'ERR_XENSTORE_CLOSED', detail: 'the xenstore connection is closed' });
    await this.closed;
  }

  // -------------------------------------------------------------- requests of any type

  /** Error for a path or payload xenstored would refuse, or for a connection that is gone. */
  private check(type: XsType, txId: number, path: string | undefined, bodyLength = 0): XenStoreError | undefined {
    if (this.failure) return failureError(this.failure, type, path);
    if (!isTransactionId(txId)) return xenStoreError('EINVAL', xsCall(type), path);
    return path === undefined ? undefined : refusedRequest(xsCall(type), path, bodyLength, this.pathsChecked);
  }

  /**
   * One request: `arg` NUL-terminated, then `body`; `path` (checked unless
   * undefined) names the node in errors. The reply's payload goes through decode.
   */
  protected send<T>(type: XsType, txId: number, arg: string, path: string | undefined, body: Buffer | undefined,
    decode: Decoder<T>): Promise<T> {
    const invalid = this.check(type, txId, path, body?.length);
    if (invalid) return Promise.reject(invalid);
    return new Promise((resolve, reject) => {
      this.enqueue(new Request(type, txId, arg, path, body, new SingleSink(decode, resolve, reject), 0));
    });
  }

  /** READs of all `paths`, pipelined; a missing node gives undefined. */
  protected sendMany<T>(paths: readonly string[], txId: number, decode: Decoder<T>): Promise<(T | undefined)[]> {
    for (const path of paths) {
      const invalid = this.check(XsType.READ, txId, path);
      if (invalid) return Promise.reject(invalid);
    }
    if (paths.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      const sink = new ReadManySink(paths.length, decode, resolve, reject);
      for (let i = 0; i < paths.length; i++) {
        this.enqueue(new Request(XsType.READ, txId, paths[i]!, paths[i], undefined, sink, i));
      }
    });
  }

  protected list(path: string, txId: number): Promise<string[]> {
    const invalid = this.check(XsType.DIRECTORY, txId, path);
    if (invalid) return Promise.reject(invalid);
    return new Promise((resolve, reject) => {
      this.listChildren(path, txId, (error, names) => (error ? reject(error) : resolve(names!)));
    });
  }

  protected walk(path: string, txId: number): Promise<XenStoreNode> {
    const invalid = this.check(XsType.DIRECTORY, txId, path);
    if (invalid) return Promise.reject(invalid);
    return new Promise((resolve, reject) => new TreeWalk(this.requests, path, txId, resolve, reject).start());
  }

  // -------------------------------------------------------------- internals

  /** Calls back with the children of `path`, falling back to DIRECTORY_PART on E2BIG. */
  private listChildren(path: string, txId: number, done: ListDone): void {
    const sink: ReplySink = {
      onReply: (_request, buffer, start, end) => done(undefined, decodeNames(buffer, start, end)),
      onError: (request, code, failure) => {
        if (code === 'E2BIG' && !failure) new DirectoryPartListing(this.requests, path, txId, done).next();
        else done(requestError(request, code, failure));
      },
    };
    this.enqueue(new Request(XsType.DIRECTORY, txId, path, path, undefined, sink, 0));
  }

  /** Queues a request; the window decides when it is written. */
  private enqueue(request: Request): void {
    if (this.failure) {
      request.sink.onError(request, this.failure.code, this.failure);
      return;
    }
    this.queue.push(request);
    if (!this.pumpScheduled) {
      this.pumpScheduled = true;
      queueMicrotask(() => {
        this.pumpScheduled = false;
        this.pump();
      });
    }
  }

  /** Writes as many queued requests as the window allows, in one socket write. */
  private pump(): void {
    if (this.failure) return;
    const count = Math.min(this.window - this.inFlight.size, this.queue.length - this.queueHead);
    if (count <= 0) return;
    let total = 0;
    for (let i = this.queueHead; i < this.queueHead + count; i++) total += HEADER_SIZE + this.queue[i]!.payloadLength;
    const out = Buffer.allocUnsafe(total);
    const header = viewOf(out);
    let pos = 0;
    for (let i = 0; i < count; i++) {
      const request = this.queue[this.queueHead++]!;
      request.reqId = this.lastReqId = (this.lastReqId % 0xffffffff) + 1; // 0 is for watch events
      const length = request.payloadLength;
      header.setUint32(pos, request.type, LITTLE_ENDIAN);
      header.setUint32(pos + 4, request.reqId, LITTLE_ENDIAN);
      header.setUint32(pos + 8, request.txId, LITTLE_ENDIAN);
      header.setUint32(pos + 12, length, LITTLE_ENDIAN);
      pos += HEADER_SIZE;
      pos += out.write(request.arg, pos, 'latin1');
      out[pos++] = 0;
      if (request.body) pos += request.body.copy(out, pos);
      this.inFlight.set(request.reqId, request);
    }
    if (!this.referenced) {
      this.referenced = true;
      this.socket.ref();
    }
    if (this.queueHead === this.queue.length) {
      this.queue.length = 0;
      this.queueHead = 0;
    } else if (this.queueHead > 4096) {
      this.queue.splice(0, this.queueHead);
      this.queueHead = 0;
    }
    this.socket.write(out);
  }

  /** Splits the bytes of one read, chunk[0, end), into messages; only a message cut at the end is copied. */
  private onData(chunk: Buffer, view: DataView, end: number): void {
    let pos = 0;
    if (this.partialLength > 0) {
      pos = this.fillPartial(chunk, end);
      if (pos < 0) return;
      const length = this.partialLength;
      this.partialLength = 0;
      if (!this.dispatch(this.partial, this.partialView, 0, length - HEADER_SIZE)) return;
    }
    while (end - pos >= HEADER_SIZE) {
      const length = view.getUint32(pos + 12, LITTLE_ENDIAN);
      if (length > MAX_REPLY_PAYLOAD) return this.protocolError(`reply payload of ${length} bytes`);
      if (end - pos < HEADER_SIZE + length) break;
      if (!this.dispatch(chunk, view, pos, length)) return;
      pos += HEADER_SIZE + length;
    }
    if (pos < end) {
      this.reservePartial(end - pos);
      this.partialLength = chunk.copy(this.partial, 0, pos, end);
    }
    this.pump();
    if (this.referenced && this.inFlight.size === 0) {
      this.referenced = false;
      this.socket.unref();
    }
  }

  /** Completes the held partial message from chunk[0, end); returns the bytes used, or -1 if still incomplete. */
  private fillPartial(chunk: Buffer, end: number): number {
    let used = 0;
    if (this.partialLength < HEADER_SIZE) {
      used = chunk.copy(this.partial, this.partialLength, 0, Math.min(end, HEADER_SIZE - this.partialLength));
      this.partialLength += used;
      if (this.partialLength < HEADER_SIZE) return -1;
    }
    const length = this.partialView.getUint32(12, LITTLE_ENDIAN);
    if (length > MAX_REPLY_PAYLOAD) {
      this.protocolError(`reply payload of ${length} bytes`);
      return -1;
    }
    this.reservePartial(HEADER_SIZE + length);
    const missing = HEADER_SIZE + length - this.partialLength;
    const copied = chunk.copy(this.partial, this.partialLength, used, Math.min(end, used + missing));
    this.partialLength += copied;
    return copied < missing ? -1 : used + copied;
  }

  /** Makes room for a held message of size bytes, keeping what is held. */
  private reservePartial(size: number): void {
    if (size <= this.partial.length) return;
    const larger = Buffer.allocUnsafe(size);
    this.partial.copy(larger, 0, 0, this.partialLength);
    this.partial = larger;
    this.partialView = viewOf(larger);
  }

  /** Hands one reply to its request; false when the connection had to be closed. */
  private dispatch(buffer: Buffer, view: DataView, pos: number, length: number): boolean {
    const type = view.getUint32(pos, LITTLE_ENDIAN);
    const reqId = view.getUint32(pos + 4, LITTLE_ENDIAN);
    const start = pos + HEADER_SIZE;
    const end = start + length;
    if (type === XsType.WATCH_EVENT && reqId === 0) {
      const [path, token] = decodeNames(buffer, start, end);
      if (path !== undefined && token !== undefined) this.onWatchEvent(path, token);
      return !this.failure;
    }
    const request = this.inFlight.get(reqId);
    if (!request) {
      this.protocolError(`reply type ${type} with unknown req_id ${reqId}`);
      return false;
    }
    if (type !== request.type && type !== XsType.ERROR) {
      this.protocolError(`reply type ${type} to request type ${request.type} (req_id ${reqId})`);
      return false;
    }
    this.inFlight.delete(reqId);
    if (type === XsType.ERROR) {
      let nul = buffer.indexOf(0, start);
      if (nul < 0 || nul > end) nul = end;
      const name = buffer.toString('latin1', start, nul);
      request.sink.onError(request, xsErrorCode(name), undefined);
    } else {
      request.sink.onReply(request, buffer, start, end);
    }
    return !this.failure;
  }

  private protocolError(detail: string): void {
    this.fail({ code: 'ERR_XENSTORE_PROTOCOL', detail: `invalid reply from xenstored: ${detail}` });
  }

  /** Ends the connection once: every request in flight or queued rejects with `error`. */
  private fail(error: ConnectionFailure): void {
    if (this.failure) return;
    this.failure = error;
    this.socket.destroy();
    const requests = [...this.inFlight.values(), ...this.queue.slice(this.queueHead)];
    this.inFlight.clear();
    this.queue.length = 0;
    this.queueHead = 0;
    for (const request of requests) request.sink.onError(request, error.code, error);
    this.onEnded();
  }
}
