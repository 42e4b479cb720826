// The wire client with the requests the library itself never sends on the
// wire (single reads, writes, mkdir, rm, transactions, reads inside one): what
// the benchmarks and the tests use to fill and inspect a store quickly.
import { xenStoreError } from '../lib/xenstore/errors.js';
import { XsType, type XenStoreNode } from '../lib/xenstore/protocol.js';
import { XenStoreConnection, type Decoder, type XenStoreConnectOptions } from '../lib/xenstore/wire.js';

const utf8: Decoder<string> = (buffer, start, end) => buffer.toString('utf8', start, end);
const bytes: Decoder<Buffer> = (buffer, start, end) => Buffer.from(buffer.subarray(start, end));
const nothing: Decoder<void> = () => undefined;
const number: Decoder<number> = (buffer, start, end) => Number.parseInt(buffer.toString('latin1', start, end), 10);

export class WireClient extends XenStoreConnection {
  static override connect(socketPath?: string, options?: XenStoreConnectOptions): Promise<WireClient> {
    return super.connect(socketPath, options) as Promise<WireClient>; // constructs `this`: a WireClient
  }

  /** Value of `path` as UTF-8; a missing node rejects with ENOENT. */
  read(path: string, txId = 0): Promise<string> {
    return this.send(XsType.READ, txId, path, path, undefined, utf8);
  }

  /** Value of `path` as raw bytes. */
  readBuffer(path: string, txId = 0): Promise<Buffer> {
    return this.send(XsType.READ, txId, path, path, undefined, bytes);
  }

  override readMany(paths: readonly string[], txId = 0): Promise<(string | undefined)[]> {
    return this.sendMany(paths, txId, utf8);
  }

  readManyBuffers(paths: readonly string[], txId = 0): Promise<(Buffer | undefined)[]> {
    return this.sendMany(paths, txId, bytes);
  }

  override directory(path: string, txId = 0): Promise<string[]> {
    return this.list(path, txId);
  }

  override readTree(path: string, txId = 0): Promise<XenStoreNode> {
    return this.walk(path, txId);
  }

  write(path: string, value: string | Buffer, txId = 0): Promise<void> {
    return this.send(XsType.WRITE, txId, path, path, typeof value === 'string' ? Buffer.from(value, 'utf8') : value, nothing);
  }

  mkdir(path: string, txId = 0): Promise<void> {
    return this.send(XsType.MKDIR, txId, path, path, undefined, nothing);
  }

  /** Removes `path` and everything under it; a missing `path` is not an error (a missing parent is). */
  rm(path: string, txId = 0): Promise<void> {
    return this.send(XsType.RM, txId, path, path, undefined, nothing);
  }

  transactionStart(): Promise<number> {
    return this.send(XsType.TRANSACTION_START, 0, '', undefined, undefined, number);
  }

  /** Commits (default) or aborts; a conflicting commit rejects with code EAGAIN: redo the transaction. */
  transactionEnd(txId: number, commit = true): Promise<void> {
    if (txId === 0) return Promise.reject(xenStoreError('EINVAL', 'xs_transaction_end'));
    return this.send(XsType.TRANSACTION_END, txId, commit ? 'T' : 'F', undefined, undefined, nothing);
  }
}
