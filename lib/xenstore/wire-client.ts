// The wire connection with a method per request type, each taking the
// transaction id it runs in (0: none): what pipelined transactions send, and
// what the benchmarks and tests use to fill and inspect a store quickly.
import { xenStoreError } from './errors.js';
import { XS_PERM, XsType, type XenStoreNode } from './protocol.js';
import { decodeNames, decodeUtf8 } from './requests.js';
import { XenStoreConnection, type Decoder, type XenStoreConnectOptions } from './wire.js';

const bytes: Decoder<Buffer> = (buffer, start, end) => Buffer.from(buffer.subarray(start, end));
const nothing: Decoder<void> = () => undefined;
const number: Decoder<number> = (buffer, start, end) => Number.parseInt(buffer.toString('latin1', start, end), 10);

/** xenstored's ACL letters: n(one), r(ead), w(rite), b(oth); bits as XS_PERM. */
const PERM_LETTERS = ['n', 'r', 'w', 'b'] as const;

/** [domid, bits, …] pairs from GET_PERMS' NUL-separated "<letter><domid>" strings, as the addon returns them. */
const permissionPairs: Decoder<number[]> = (buffer, start, end) => {
  const flat: number[] = [];
  for (const entry of decodeNames(buffer, start, end)) {
    const bits = PERM_LETTERS.indexOf(entry[0] as (typeof PERM_LETTERS)[number]);
    flat.push(Number.parseInt(entry.slice(1), 10), bits < 0 ? 0 : bits);
  }
  return flat;
};

/** SET_PERMS' body: each [domid, bits] pair as "<letter><domid>" and a NUL. */
function permissionsBody(flat: readonly number[]): Buffer {
  let text = '';
  for (let i = 0; i + 1 < flat.length; i += 2) text += `${PERM_LETTERS[flat[i + 1]! & (XS_PERM.read | XS_PERM.write)]}${flat[i]}\0`;
  return Buffer.from(text, 'latin1');
}

export class XenStoreWireClient extends XenStoreConnection {
  /** Where each watch token's events go. */
  private readonly watchListeners = new Map<string, () => void>();

  static override connect(socketPath?: string, options?: XenStoreConnectOptions): Promise<XenStoreWireClient> {
    return super.connect(socketPath, options) as Promise<XenStoreWireClient>; // constructs `this`
  }

  /** Value of `path` as UTF-8; a missing node rejects with ENOENT. */
  read(path: string, txId = 0): Promise<string> {
    return this.send(XsType.READ, txId, path, path, undefined, decodeUtf8);
  }

  /** Value of `path` as raw bytes. */
  readBuffer(path: string, txId = 0): Promise<Buffer> {
    return this.send(XsType.READ, txId, path, path, undefined, bytes);
  }

  /** Values of all `paths` as UTF-8, pipelined; a missing node gives undefined. */
  readMany(paths: readonly string[], txId = 0): Promise<(string | undefined)[]> {
    return this.sendMany(paths, txId, decodeUtf8);
  }

  readManyBuffers(paths: readonly string[], txId = 0): Promise<(Buffer | undefined)[]> {
    return this.sendMany(paths, txId, bytes);
  }

  /** Names of the children of `path` (DIRECTORY, or DIRECTORY_PART when the list exceeds one payload). */
  directory(path: string, txId = 0): Promise<string[]> {
    return this.list(path, txId);
  }

  /** The subtree at `path`, breadth first: each node's DIRECTORY and READ go out together. */
  readTree(path: string, txId = 0): Promise<XenStoreNode> {
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

  /** The node's ACL as [domid, bits, …] pairs, owner first. */
  getPermissionPairs(path: string, txId = 0): Promise<number[]> {
    return this.send(XsType.GET_PERMS, txId, path, path, undefined, permissionPairs);
  }

  /** Sets the node's ACL from [domid, bits, …] pairs, owner first. */
  setPermissionPairs(path: string, flat: readonly number[], txId = 0): Promise<void> {
    return this.send(XsType.SET_PERMS, txId, path, path, permissionsBody(flat), nothing);
  }

  /** Sets a watch whose events (the first one at once) call onEvent until unwatch(), as does the connection's end. */
  watch(path: string, token: string, onEvent: () => void): Promise<void> {
    this.watchListeners.set(token, onEvent);
    return this.send(XsType.WATCH, 0, path, path, Buffer.from(`${token}\0`, 'latin1'), nothing);
  }

  unwatch(path: string, token: string): Promise<void> {
    this.watchListeners.delete(token);
    return this.send(XsType.UNWATCH, 0, path, path, Buffer.from(`${token}\0`, 'latin1'), nothing);
  }

  /** Watches set on this connection. */
  get watchCount(): number {
    return this.watchListeners.size;
  }

  protected override onWatchEvent(_path: string, token: string): void {
    this.watchListeners.get(token)?.();
  }

  /** Every watch hears of the end, so that its next request reports it. */
  protected override onEnded(): void {
    for (const onEvent of this.watchListeners.values()) onEvent();
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
