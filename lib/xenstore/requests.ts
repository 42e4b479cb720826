// The requests of the pipelined wire client (wire.ts) and where their replies go,
// apart from the socket and its framing: one request settling one promise, a
// batch of READs settling one array, a child list read in DIRECTORY_PART parts,
// and a breadth-first tree walk, each a ReplySink that queues its follow-up
// requests on the connection's RequestQueue.
import type { ErrorCode } from '../errors.js';
import { closedError, xenStoreError, type XenStoreError } from './errors.js';
import { errnoOf, isValidXenStorePath, xsCall, XsType, type XenStoreNode } from './protocol.js';

/** Restarts of a DIRECTORY_PART listing whose node keeps changing underneath. */
const DIRECTORY_PART_RESTARTS = 16;

/**
 * Why the connection ended, shared by every request it fails:
 * ERR_XENSTORE_CONNECTION_LOST (the socket failed or xenstored went away),
 * ERR_XENSTORE_PROTOCOL (a reply that is not one; the connection is closed)
 * or ERR_XENSTORE_CLOSED (close() was called).
 */
export interface ConnectionFailure {
  code: 'ERR_XENSTORE_CONNECTION_LOST' | 'ERR_XENSTORE_PROTOCOL' | 'ERR_XENSTORE_CLOSED';
  detail: string;
  cause?: Error;
}

/** The error a request of `type` on `path` raises once the connection has ended, as the addon raises it. */
export function failureError(failure: ConnectionFailure, type: XsType, path: string | undefined): XenStoreError {
  if (failure.code === 'ERR_XENSTORE_CLOSED') return closedError();
  const errno = (failure.cause as NodeJS.ErrnoException | undefined)?.errno;
  return xenStoreError(failure.code, xsCall(type), path, {
    reason: failure.detail, errno: errno === undefined ? errnoOf('ECONNRESET') : Math.abs(errno), cause: failure.cause,
  });
}

/** Receives the outcome of requests; `index` tells a batch which of its requests it is. */
export interface ReplySink {
  /** A reply of the request's own type; the payload is buffer[start, end). */
  onReply(request: Request, buffer: Buffer, start: number, end: number): void;
  /** An XS_ERROR reply (`failure` undefined: build the error on demand) or the end of the connection. */
  onError(request: Request, code: ErrorCode, failure: ConnectionFailure | undefined): void;
}

/** What the batch readers need from the connection (wire.ts). */
export interface RequestQueue {
  enqueue(request: Request): void;
  listChildren(path: string, txId: number, done: ListDone): void;
}

export type ListDone = (error: Error | undefined, names?: string[]) => void;

export class Request {
  reqId = 0;
  constructor(
    readonly type: XsType,
    readonly txId: number,
    /** First payload string, sent NUL-terminated (a path, or T/F, or empty). */
    readonly arg: string,
    /** The path, for errors; undefined for transaction requests. */
    readonly path: string | undefined,
    /** Raw bytes following the arg's NUL (a written value, a DIRECTORY_PART offset). */
    readonly body: Buffer | undefined,
    readonly sink: ReplySink,
    readonly index: number,
  ) {}

  get payloadLength(): number {
    return this.arg.length + 1 + (this.body ? this.body.length : 0);
  }
}

export function requestError(request: Request, code: ErrorCode, failure: ConnectionFailure | undefined): XenStoreError {
  return failure ? failureError(failure, request.type, request.path) : xenStoreError(code, xsCall(request.type), request.path);
}

/** Turns a reply's payload, buffer[start, end), into a result. */
export type Decoder<T> = (buffer: Buffer, start: number, end: number) => T;

/** Settles one promise from one request, decoding the payload with `decode`. */
export class SingleSink<T> implements ReplySink {
  constructor(
    private readonly decode: Decoder<T>,
    private readonly resolve: (value: T) => void,
    private readonly reject: (error: Error) => void,
  ) {}
  onReply(_request: Request, buffer: Buffer, start: number, end: number): void {
    this.resolve(this.decode(buffer, start, end));
  }
  onError(request: Request, code: ErrorCode, failure: ConnectionFailure | undefined): void {
    this.reject(requestError(request, code, failure));
  }
}

/** Values of many READs, in order; ENOENT → undefined, any other error rejects the batch. */
export class ReadManySink<T> implements ReplySink {
  private remaining: number;
  private settled = false;
  readonly values: (T | undefined)[];
  constructor(
    count: number,
    private readonly decode: Decoder<T>,
    private readonly resolve: (values: (T | undefined)[]) => void,
    private readonly reject: (error: Error) => void,
  ) {
    this.remaining = count;
    this.values = new Array<T | undefined>(count).fill(undefined);
  }
  onReply(request: Request, buffer: Buffer, start: number, end: number): void {
    this.values[request.index] = this.decode(buffer, start, end);
    this.done();
  }
  onError(request: Request, code: ErrorCode, failure: ConnectionFailure | undefined): void {
    if (code === 'ENOENT' && !failure) return this.done();
    if (this.settled) return;
    this.settled = true;
    this.reject(requestError(request, code, failure));
  }
  private done(): void {
    if (--this.remaining === 0 && !this.settled) {
      this.settled = true;
      this.resolve(this.values);
    }
  }
}

export const decodeUtf8: Decoder<string> = (buffer, start, end) => buffer.toString('utf8', start, end);

/** NUL-terminated names (node names are ASCII by xenstored's charset). */
export function decodeNames(buffer: Buffer, start: number, end: number): string[] {
  const names: string[] = [];
  let pos = start;
  while (pos < end) {
    let nul = buffer.indexOf(0, pos);
    if (nul < 0 || nul > end) nul = end;
    if (nul > pos) names.push(buffer.toString('latin1', pos, nul));
    pos = nul + 1;
  }
  return names;
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/**
 * Child list longer than one payload, read in parts as libxenstore does: each reply is
 * `gencnt|child|…`, the last part ends with an extra NUL, and a changed gencnt restarts.
 */
export class DirectoryPartListing implements ReplySink {
  private chunks: Buffer[] = [];
  private offset = 0;
  private generation: string | undefined;
  private restarts = 0;
  constructor(
    private readonly requests: RequestQueue,
    private readonly path: string,
    private readonly txId: number,
    private readonly done: ListDone,
  ) {}

  next(): void {
    const offset = Buffer.from(`${this.offset}\0`, 'latin1');
    this.requests.enqueue(new Request(XsType.DIRECTORY_PART, this.txId, this.path, this.path, offset, this, 0));
  }

  onReply(request: Request, buffer: Buffer, start: number, end: number): void {
    let genEnd = buffer.indexOf(0, start);
    if (genEnd < 0 || genEnd >= end) genEnd = end;
    const generation = buffer.toString('latin1', start, genEnd);
    if (this.generation !== undefined && generation !== this.generation) {
      if (++this.restarts > DIRECTORY_PART_RESTARTS) return this.onError(request, 'EAGAIN', undefined);
      this.chunks = [];
      this.offset = 0;
      this.generation = undefined;
      return this.next();
    }
    this.generation = generation;
    const part = Buffer.from(buffer.subarray(Math.min(genEnd + 1, end), end));
    if (part.length === 0) return this.onError(request, 'EINVAL', undefined); // would never progress
    this.chunks.push(part);
    this.offset += part.length;
    // Names are never empty, so a lone NUL or a double NUL can only be the end mark.
    const last = part.length - 1;
    const finished = part[last] === 0 && (last === 0 || part[last - 1] === 0);
    if (!finished) return this.next();
    const list = this.chunks.length === 1 ? part : Buffer.concat(this.chunks);
    this.done(undefined, decodeNames(list, 0, list.length));
  }

  onError(request: Request, code: ErrorCode, failure: ConnectionFailure | undefined): void {
    // A daemon without DIRECTORY_PART cannot list this node at all, as libxenstore reports it.
    this.done(requestError(request, code === 'ENOSYS' && !failure ? 'E2BIG' : code, failure));
  }
}

/**
 * Breadth-first subtree read. Each node's DIRECTORY and READ are queued together as soon as its
 * parent's child list arrives, so the pipeline never drains between levels. Nodes removed while
 * the walk runs (ENOENT below the root) are left out.
 */
export class TreeWalk implements ReplySink {
  private readonly nodes: XenStoreNode[] = [];
  private readonly paths: string[] = [];
  private readonly gone: boolean[] = [];
  private outstanding = 0;
  private anyGone = false;
  private settled = false;

  constructor(
    private readonly requests: RequestQueue,
    private readonly rootPath: string,
    private readonly txId: number,
    private readonly resolve: (node: XenStoreNode) => void,
    private readonly reject: (error: Error) => void,
  ) {}

  start(): void {
    this.visit({ name: baseName(this.rootPath), value: '', children: [] }, this.rootPath);
  }

  private visit(node: XenStoreNode, path: string): void {
    const index = this.nodes.length;
    this.nodes.push(node);
    this.paths.push(path);
    this.gone.push(false);
    this.outstanding += 2;
    this.requests.enqueue(new Request(XsType.READ, this.txId, path, path, undefined, this, index));
    this.requests.enqueue(new Request(XsType.DIRECTORY, this.txId, path, path, undefined, this, index));
  }

  onReply(request: Request, buffer: Buffer, start: number, end: number): void {
    if (this.settled) return;
    const node = this.nodes[request.index]!;
    if (request.type === XsType.READ) node.value = buffer.toString('utf8', start, end);
    else this.addChildren(request.index, decodeNames(buffer, start, end));
    this.finishOne();
  }

  onError(request: Request, code: ErrorCode, failure: ConnectionFailure | undefined): void {
    if (this.settled) return;
    if (!failure && code === 'ENOENT' && request.index > 0) {
      this.gone[request.index] = this.anyGone = true;
      return this.finishOne();
    }
    if (!failure && code === 'E2BIG' && request.type === XsType.DIRECTORY) {
      const index = request.index;
      this.requests.listChildren(this.paths[index]!, this.txId, (error, names) => {
        if (this.settled) return;
        if (error && (error as NodeJS.ErrnoException).code === 'ENOENT' && index > 0) {
          this.gone[index] = this.anyGone = true;
        } else if (error) {
          return this.fail(error);
        } else {
          this.addChildren(index, names!);
        }
        this.finishOne();
      });
      return;
    }
    this.fail(requestError(request, code, failure));
  }

  private addChildren(index: number, names: string[]): void {
    const parent = this.nodes[index]!;
    const parentPath = this.paths[index]!;
    for (const name of names) {
      const child: XenStoreNode = { name, value: '', children: [] };
      parent.children.push(child);
      const path = childPath(parentPath, name);
      if (!isValidXenStorePath(path)) return this.fail(xenStoreError('EINVAL', 'xs_directory', parentPath));
      this.visit(child, path);
    }
  }

  private finishOne(): void {
    if (--this.outstanding > 0 || this.settled) return;
    this.settled = true;
    if (this.anyGone) this.prune();
    this.resolve(this.nodes[0]!);
  }

  private prune(): void {
    const goneNodes = new Set(this.nodes.filter((_, i) => this.gone[i]));
    for (const node of this.nodes) {
      if (node.children.some((child) => goneNodes.has(child))) {
        node.children = node.children.filter((child) => !goneNodes.has(child));
      }
    }
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    this.reject(error);
  }
}
