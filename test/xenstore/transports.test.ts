// The two transports fail alike: the same failing request raises, through the
// addon (libxenstore) and through the wire client, an error of the same class
// with the same code, errno, syscall and path, against the real xenstored.
//
// Every socket client of xenstored is privileged (dom0), so the daemon never
// answers EACCES on a socket; for that case both transports talk to the real
// xenstored through a relay that answers XS_ERROR "EACCES" (what xenstored
// sends a guest without permission) to requests under /parity/forbidden and
// passes everything else through.
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ANY_SLOT, NativeOp, native } from '../../lib/native.js';
import { XenStoreError } from '../../lib/xenstore/errors.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { XsType, XENSTORE_PAYLOAD_MAX } from '../../lib/xenstore/protocol.js';
import { XenStoreWireClient as WireClient } from '../../lib/xenstore/wire-client.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { frame, readFrames } from '../harness/wire-frames.js';

const xs = useLocalXenstored();
const FORBIDDEN = '/parity/forbidden';

/** The fields both transports must agree on. */
function fields(error: unknown) {
  const { code, errno, syscall, path } = error as XenStoreError;
  return { class: (error as object)?.constructor?.name, code, errno, syscall, path };
}

async function failure(request: () => Promise<unknown>): Promise<ReturnType<typeof fields>> {
  try {
    await request();
  } catch (error) {
    return fields(error);
  }
  throw new Error('the request succeeded');
}

/** A connection to the real xenstored, retried while its listen queue (a backlog of 1) is full. */
function daemonConnection(): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const attempt = (left: number): void => {
      const socket = createConnection(xs.current.socketPath);
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => {
        if (error.code === 'EAGAIN' && left > 0) setTimeout(() => attempt(left - 1), 2);
        else reject(error);
      });
    };
    attempt(200);
  });
}

/** Forwards to the real xenstored, answering EACCES itself to requests whose path is under FORBIDDEN. */
async function refusingRelay(path: string): Promise<Server> {
  const server = createServer((client) => {
    const daemon = daemonConnection();
    readFrames(client, (request) => {
      const target = request.payload.toString('latin1', 0, Math.max(0, request.payload.indexOf(0)));
      if (target.startsWith(FORBIDDEN)) client.write(frame(XsType.ERROR, request.reqId, 'EACCES\0', request.txId));
      else void daemon.then((socket) => socket.write(frame(request.type, request.reqId, request.payload, request.txId)));
    });
    daemon.then((socket) => {
      readFrames(socket, (reply) => client.write(frame(reply.type, reply.reqId, reply.payload, reply.txId)));
      client.on('close', () => socket.destroy());
      socket.on('error', () => client.destroy());
    }, () => client.destroy());
    client.on('error', () => {});
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

describe('the same failure through libxenstore and the wire', () => {
  const socketDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-parity-'));
  let addon: XenStore; // every request on libxenstore handles
  let pipelined: XenStore; // readMany, readTree and list on the wire
  let wire: WireClient;
  let relay: Server;
  let addonRefused: XenStore;
  let pipelinedRefused: XenStore;
  let wireRefused: WireClient;

  beforeAll(async () => {
    const { socketPath } = xs.current;
    addon = XenStore.open({ path: socketPath, pipelined: false });
    pipelined = XenStore.open({ path: socketPath });
    wire = await WireClient.connect(socketPath);
    await wire.write('/parity/present', 'here');
    const relayPath = join(socketDir, 'relay');
    relay = await refusingRelay(relayPath);
    addonRefused = XenStore.open({ path: relayPath, pipelined: false });
    pipelinedRefused = XenStore.open({ path: relayPath });
    wireRefused = await WireClient.connect(relayPath);
  });

  afterAll(async () => {
    await Promise.all([addon?.close(), pipelined?.close(), wire?.close(), addonRefused?.close(), pipelinedRefused?.close(), wireRefused?.close()]);
    await new Promise((resolve) => relay?.close(resolve));
    rmSync(socketDir, { recursive: true, force: true });
  });

  it('a missing node: reads give undefined on both, rm below a missing parent is ENOENT on both', async () => {
    for (const store of [addon, pipelined]) {
      expect(await store.readMany(['/parity/present', '/parity/absent'])).toEqual(['here', undefined]);
      expect(await store.list('/parity/absent')).toBeUndefined();
      expect(await store.readTree('/parity/absent')).toBeUndefined();
    }
    const expected = { class: 'XenStoreError', code: 'ENOENT', errno: 2, syscall: 'xs_rm', path: '/parity/absent/child' };
    expect(await failure(() => addon.rm('/parity/absent/child'))).toEqual(expected);
    expect(await failure(() => wire.rm('/parity/absent/child'))).toEqual(expected);
  });

  it('EACCES from the daemon: reads, listings, subtrees and writes', async () => {
    const key = `${FORBIDDEN}/key`;
    const read = { class: 'XenStoreError', code: 'EACCES', errno: 13, syscall: 'xs_read', path: key };
    const listed = { ...read, syscall: 'xs_directory' };
    expect(await failure(() => addonRefused.read(key))).toEqual(read);
    expect(await failure(() => wireRefused.read(key))).toEqual(read);
    const batch = ['/parity/present', key, `${FORBIDDEN}/other`];
    expect(await failure(() => addonRefused.readMany(batch))).toEqual(read);
    expect(await failure(() => pipelinedRefused.readMany(batch))).toEqual(read);
    expect(await failure(() => addonRefused.list(key))).toEqual(listed);
    expect(await failure(() => pipelinedRefused.list(key))).toEqual(listed);
    // A subtree read starts with the root's value, on both.
    expect(await failure(() => addonRefused.readTree(key))).toEqual(read);
    expect(await failure(() => pipelinedRefused.readTree(key))).toEqual(read);
    const written = { ...read, syscall: 'xs_write' };
    expect(await failure(() => addonRefused.write(key, 'v'))).toEqual(written);
    expect(await failure(() => wireRefused.write(key, 'v'))).toEqual(written);
    expect(await pipelinedRefused.readMany(['/parity/present'])).toEqual(['here']); // the relay passes the rest
  });

  it('EINVAL for a bad path: checked before sending on both, as xenstored answers it', async () => {
    const path = '/parity//double';
    const expected = { class: 'XenStoreError', code: 'EINVAL', errno: 22, syscall: 'xs_read', path };
    expect(await failure(() => addon.read(path))).toEqual(expected);
    expect(await failure(() => wire.read(path))).toEqual(expected);
    const trusting = await WireClient.connect(xs.current.socketPath, { pathsChecked: true });
    try {
      expect(await failure(() => trusting.read(path))).toEqual(expected); // sent: the daemon's own answer
    } finally {
      await trusting.close();
    }
  });

  it('E2BIG for a value beyond the payload limit, on both', async () => {
    const path = '/parity/big';
    const value = 'x'.repeat(XENSTORE_PAYLOAD_MAX - path.length); // one byte too many with the path's NUL
    const expected = { class: 'XenStoreError', code: 'E2BIG', errno: 7, syscall: 'xs_write', path };
    expect(await failure(() => addon.write(path, value))).toEqual(expected);
    expect(await failure(() => wire.write(path, value))).toEqual(expected);
    await addon.write(path, value.slice(1));
    expect(await wire.read(path)).toBe(value.slice(1));
  });

  it('no EEXIST: xenstored answers mkdir of an existing node with success on both', async () => {
    await addon.mkdir('/parity/present');
    await wire.mkdir('/parity/present');
    expect(await addon.read('/parity/present')).toBe('here');
  });

  it('EAGAIN for a conflicting commit, on both', async () => {
    await wire.write('/parity/tx', 'before');
    const conflicting = await failure(() => addon.transaction(async (tx) => {
      await tx.read('/parity/tx');
      await tx.write('/parity/tx', 'mine');
      await wire.write('/parity/tx', 'theirs');
    }, { maxRetries: 0 }));
    const tx = await wire.transactionStart();
    await wire.read('/parity/tx', tx);
    await wire.write('/parity/tx', 'mine', tx);
    await addon.write('/parity/tx', 'theirs again');
    const expected = { class: 'XenStoreError', code: 'EAGAIN', errno: 11, syscall: 'xs_transaction_end', path: undefined };
    expect(conflicting).toEqual(expected);
    expect(await failure(() => wire.transactionEnd(tx))).toEqual(expected);
  });

  it('a closed connection: ERR_XENSTORE_CLOSED from the addon, the store and the wire', async () => {
    const pool = new (native().Connection)(xs.current.socketPath, 1);
    await pool.close();
    const closedWire = await WireClient.connect(xs.current.socketPath);
    await closedWire.close();
    const closedStore = XenStore.open({ path: xs.current.socketPath });
    await closedStore.close();
    const expected = { class: 'XenStoreError', code: 'ERR_XENSTORE_CLOSED', errno: 9, syscall: 'xs_request', path: undefined };
    expect(await failure(async () => pool.request(NativeOp.read, ANY_SLOT, 0, '/parity/present'))).toEqual(expected);
    expect(await failure(() => closedWire.read('/parity/present'))).toEqual(expected);
    expect(await failure(() => closedWire.readMany(['/parity/present']))).toEqual(expected);
    expect(await failure(() => closedStore.readMany(['/parity/present']))).toEqual(expected);
  });
});
