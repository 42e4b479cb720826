// Misuse and failure: use after close, close during in-flight work, the
// daemon dying under us, opening where there is no daemon.
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { startLocalXenstored } from '../../lib/localxen/xenstored.js';
import { XenHost } from '../../lib/host.js';
import { native } from '../../lib/native.js';
import { XenStore, XenStoreError } from '../../lib/xenstore/index.js';

const daemon = useLocalXenstored();

function caught(call: () => unknown): unknown {
  try {
    call();
  } catch (error) {
    return error;
  }
  throw new Error('expected a throw');
}

describe('close', () => {
  it('makes every later call throw or reject ERR_XENSTORE_CLOSED', async () => {
    const store = XenStore.open({ path: daemon.current.socketPath, poolSize: 2 });
    store.writeSync('/life/k', 'v');
    await store.close();
    await store.close(); // idempotent
    const closed = { code: 'ERR_XENSTORE_CLOSED', name: 'XenStoreError' };
    expect(caught(() => store.readSync('/life/k'))).toMatchObject(closed);
    expect(caught(() => store.readTreeSync('/life'))).toMatchObject(closed);
    await expect(store.read('/life/k')).rejects.toMatchObject(closed);
    await expect(store.readMany(['/life/k'])).rejects.toMatchObject(closed);
    await expect(store.getDomainPath(1)).rejects.toMatchObject(closed);
    await expect(store.transaction(async () => 1)).rejects.toMatchObject(closed);
  });

  it('await using closes a XenStore and a XenHost (and its own store) at the end of the scope', async () => {
    let store: XenStore;
    let hostStore: XenStore;
    const userdataDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-dispose-'));
    try {
      {
        await using scoped = XenStore.open({ path: daemon.current.socketPath });
        await using host = XenHost.open({ xenstorePath: daemon.current.socketPath, userdataDir });
        await scoped.write('/life/scoped', 'v');
        expect(await host.xenstore.read('/life/scoped')).toBe('v');
        store = scoped;
        hostStore = host.xenstore;
      }
      await expect(store.read('/life/scoped')).rejects.toMatchObject({ code: 'ERR_XENSTORE_CLOSED' });
      await expect(hostStore.read('/life/scoped')).rejects.toMatchObject({ code: 'ERR_XENSTORE_CLOSED' });
    } finally {
      rmSync(userdataDir, { recursive: true, force: true });
    }
  });

  it('waits for in-flight async requests, which all complete', async () => {
    const store = XenStore.open({ path: daemon.current.socketPath });
    for (let i = 0; i < 50; i++) store.writeSync(`/life/many/k${i}`, `v${i}`);
    const order: string[] = [];
    const reads = Array.from({ length: 200 }, (_, i) => store.read(`/life/many/k${i % 50}`).then((value) => {
      order.push('read');
      return value;
    }));
    const tree = store.readTree('/life/many');
    const closing = store.close().then(() => order.push('closed'));
    await expect(store.read('/life/many/k1')).rejects.toMatchObject({ code: 'ERR_XENSTORE_CLOSED' });
    const values = await Promise.all(reads);
    expect(values).toEqual(Array.from({ length: 200 }, (_, i) => `v${i % 50}`));
    expect((await tree)!.children).toHaveLength(50);
    await closing;
    expect(order.at(-1)).toBe('closed');
    expect(order.filter((entry) => entry === 'read')).toHaveLength(200);
  });

  it('closes while a transaction is open: the transaction is refused afterwards', async () => {
    const store = XenStore.open({ path: daemon.current.socketPath, poolSize: 1 });
    const result = store.transaction(async (tx) => {
      await tx.write('/life/tx', '1');
      await store.close();
      return tx.read('/life/tx');
    });
    await expect(result).rejects.toMatchObject({ code: 'ERR_XENSTORE_CLOSED' });
  });
});

describe('the daemon dies', () => {
  const lost = { name: 'XenStoreError', code: 'ERR_XENSTORE_CONNECTION_LOST' };

  it('fails requests and watches with a clear error, never a crash, and reconnects once it is back', async () => {
    const first = await startLocalXenstored();
    const store = XenStore.open({ path: first.socketPath });
    try {
      store.writeSync('/dying/k', 'v');
      const events = store.watch('/dying');
      await events.next(); // the initial fire
      const pending = events.next().catch((error: unknown) => error);
      const inFlight = Array.from({ length: 50 }, () => store.read('/dying/k').catch((error: unknown) => error));
      process.kill(first.pid, 'SIGKILL');
      await first.stop();

      // The watch iterator throws once, then ends.
      expect(await pending).toMatchObject(lost);
      expect(await events.next()).toEqual({ value: undefined, done: true });
      for (const outcome of await Promise.all(inFlight)) {
        if (outcome !== 'v') expect(outcome).toMatchObject({ name: 'XenStoreError', code: expect.stringMatching(/^ERR_XENSTORE_(CONNECTION_LOST|UNAVAILABLE)$/) });
      }
      // Every later request fails typed: the lost connection once, then "no daemon" while it stays away.
      const codes = new Set<string>();
      for (let i = 0; i < 6; i++) codes.add((caught(() => store.readSync('/dying/k')) as XenStoreError).code);
      codes.add(((await store.readMany(['/dying/k']).catch((error: unknown) => error)) as XenStoreError).code);
      codes.add(((await store.transaction(async () => 1).catch((error: unknown) => error)) as XenStoreError).code);
      expect([...codes].every((code) => /^ERR_XENSTORE_(CONNECTION_LOST|UNAVAILABLE)$/.test(code))).toBe(true);
      expect(codes.has('ERR_XENSTORE_UNAVAILABLE')).toBe(true);

      // A new daemon on the same socket: the next requests and watches just work.
      const second = await startLocalXenstored({ rundir: first.rundir });
      try {
        expect(store.readSync('/dying/k')).toBeUndefined(); // a fresh daemon: the old state is gone
        await store.write('/dying/k', 'again');
        expect(await store.read('/dying/k')).toBe('again');
        expect(await store.transaction(async (tx) => tx.read('/dying/k'))).toBe('again');
        expect(await store.readMany(['/dying/k'])).toEqual(['again']); // the pipelined batch connection too
        expect((await store.readTree('/dying'))!.children).toEqual([{ name: 'k', value: 'again', children: [] }]);
        const again = store.watch('/dying');
        expect((await again.next()).value).toMatchObject({ path: '/dying' });
        await again.return!();
      } finally {
        await store.close();
        await second.stop();
      }
    } finally {
      await store.close();
    }
  });

  it.each([true, false])('a waitFor pending when the daemon dies rejects at once (pipelined: %s)', async (pipelined) => {
    const first = await startLocalXenstored();
    const store = XenStore.open({ path: first.socketPath, pipelined });
    try {
      await store.write('/dying/state', '1');
      const waiting = store.waitFor('/dying/state', (value) => value === '6', { timeoutMs: 60_000 });
      await new Promise((resolve) => setTimeout(resolve, 50));
      process.kill(first.pid, 'SIGKILL');
      await expect(waiting).rejects.toMatchObject(lost);
    } finally {
      await store.close();
      await first.stop();
    }
  });

  it('a transaction open when the connection is lost fails; the store carries on', async () => {
    const first = await startLocalXenstored();
    const store = XenStore.open({ path: first.socketPath, poolSize: 1 });
    let second: Awaited<ReturnType<typeof startLocalXenstored>> | undefined;
    try {
      const result = store.transaction(async (tx) => {
        await tx.write('/dying/tx', '1');
        process.kill(first.pid, 'SIGKILL');
        await first.stop();
        second = await startLocalXenstored({ rundir: first.rundir });
        return tx.read('/dying/tx');
      });
      await expect(result).rejects.toMatchObject(lost);
      expect(await store.read('/dying/tx')).toBeUndefined();
    } finally {
      await store.close();
      await second?.stop();
    }
  });
});

describe('opening without a daemon', () => {
  it('refuses bad options before looking for one', () => {
    expect(caught(() => XenStore.open({ poolSize: 0 }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    for (const watchCheckMs of [-1, Number.NaN, Infinity, '5' as unknown as number]) {
      expect(caught(() => XenStore.open({ watchCheckMs }))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
    }
  });

  it('raises one ERR_XENSTORE_UNAVAILABLE error that says what is missing and how to fix it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-nosock-'));
    try {
      const socket = join(dir, 'socket');
      const error = caught(() => XenStore.open({ path: socket })) as XenStoreError;
      expect(error).toBeInstanceOf(XenStoreError);
      expect(error).toMatchObject({ code: 'ERR_XENSTORE_UNAVAILABLE', errno: 2, syscall: 'xs_open', path: socket });
      expect(error.message).toContain(`${socket} (missing)`);
      expect(error.message).toContain('XENSTORED_PATH');
      expect(error.message).toContain('dom0');
      expect((error.cause as XenStoreError).code).toBe('ENOENT');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('follows XENSTORED_RUNDIR when no path is given, and leaves the environment as it was', () => {
    const dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-rundir-'));
    const saved = { path: process.env.XENSTORED_PATH, rundir: process.env.XENSTORED_RUNDIR };
    try {
      delete process.env.XENSTORED_PATH;
      process.env.XENSTORED_RUNDIR = dir;
      const error = caught(() => XenStore.open()) as XenStoreError;
      expect(error.code).toBe('ERR_XENSTORE_UNAVAILABLE');
      expect(error.message).toContain(`${dir}/socket (missing)`);

      process.env.XENSTORED_RUNDIR = daemon.current.rundir; // the local daemon's socket is rundir/socket
      const store = XenStore.open({ poolSize: 1 });
      expect(store.readSync('/tool/xenstored')).toBe('');
      void store.close();

      const explicit = XenStore.open({ path: daemon.current.socketPath, poolSize: 1 });
      expect(process.env.XENSTORED_PATH).toBeUndefined();
      void explicit.close();
    } finally {
      if (saved.path === undefined) delete process.env.XENSTORED_PATH; else process.env.XENSTORED_PATH = saved.path;
      if (saved.rundir === undefined) delete process.env.XENSTORED_RUNDIR; else process.env.XENSTORED_RUNDIR = saved.rundir;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('flock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-flock-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('locks, reports contention with ex-nb, unlocks', () => {
    const { flock } = native();
    const first = openSync(join(dir, 'lock'), 'w');
    const second = openSync(join(dir, 'lock'), 'r');
    try {
      expect(flock(first, 'ex')).toBe(true);
      expect(flock(second, 'ex-nb')).toBe(false);
      expect(flock(first, 'un')).toBe(true);
      expect(flock(second, 'ex-nb')).toBe(true);
    } finally {
      closeSync(first);
      closeSync(second);
    }
  });

  it('throws coded errors for a bad fd or operation', () => {
    const { flock } = native();
    expect(caught(() => flock(987654, 'ex'))).toMatchObject({ code: 'EBADF', errno: 9, syscall: 'flock' });
    expect(caught(() => flock(0, 'sh' as 'ex'))).toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
    expect(caught(() => flock(-1, 'ex'))).toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });
});
