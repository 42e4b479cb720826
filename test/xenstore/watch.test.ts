// Watches on their own handle: the initial fire, events below the path,
// an AbortError on abort, clean endings on break and close.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { XenStore, XenStoreError, type XenStoreWatchEvent } from '../../lib/xenstore/index.js';

const daemon = useLocalXenstored();
let store: XenStore;
beforeAll(() => { store = XenStore.open({ path: daemon.current.socketPath }); });
afterAll(async () => { await store?.close(); });

const tick = () => new Promise((resolve) => setTimeout(resolve, 20));

describe('watch', () => {
  it('fires once at registration, then for writes at and below the path only', async () => {
    const events = store.watch('/w/dom', { token: 'mine' });
    expect(await events.next()).toEqual({ value: { path: '/w/dom', token: 'mine' }, done: false });
    await store.write('/w/other', 'x'); // outside the watched path
    await store.write('/w/dom/a/b', '1');
    await store.write('/w/dom', 'v');
    const seen: XenStoreWatchEvent[] = [];
    for await (const event of events) {
      seen.push(event);
      if (seen.length === 2) break;
    }
    expect(seen.map((e) => e.path)).toEqual(['/w/dom/a/b', '/w/dom']);
    expect(seen.every((e) => e.token === 'mine')).toBe(true);
  });

  it('rejects the for-await loop with an AbortError when the signal aborts, as events.on does', async () => {
    const controller = new AbortController();
    const seen: string[] = [];
    const loop = (async () => {
      for await (const event of store.watch('/w/abort', { signal: controller.signal })) {
        seen.push(event.path);
        if (seen.length === 2) controller.abort();
      }
    })().then(() => 'ended', (error: unknown) => error);
    await tick();
    await store.write('/w/abort/x', '1');
    expect(await loop).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    expect(seen).toEqual(['/w/abort', '/w/abort/x']);
    const reason = new Error('not wanted');
    const none = store.watch('/w/abort', { signal: AbortSignal.abort(reason) });
    await expect(none.next()).rejects.toMatchObject({ name: 'AbortError', cause: reason });
    expect(await none.next()).toEqual({ value: undefined, done: true });
    // A consumer waiting in next() hears of the abort at once.
    const controller2 = new AbortController();
    const waiting = store.watch('/w/abort', { signal: controller2.signal });
    await waiting.next();
    const pending = waiting.next();
    controller2.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('unwatches when the loop is left: no more events for that token', async () => {
    const first = store.watch('/w/un', { token: 'un' });
    await first.next();
    await first.return!();
    const again = store.watch('/w/un', { token: 'un' }); // same path and token: only possible after unwatch
    expect(await again.next()).toEqual({ value: { path: '/w/un', token: 'un' }, done: false });
    await store.write('/w/un/k', '1');
    expect((await again.next()).value).toEqual({ path: '/w/un/k', token: 'un' });
    expect(await first.next()).toEqual({ value: undefined, done: true });
    await again.return!();
  });

  it('fires for rm of the node and of a parent', async () => {
    await store.write('/w/rm/a/b', '1');
    const events = store.watch('/w/rm/a/b');
    await events.next();
    await store.rm('/w/rm/a/b');
    expect((await events.next()).value!.path).toBe('/w/rm/a/b');
    await store.write('/w/rm/a/b', '2');
    expect((await events.next()).value!.path).toBe('/w/rm/a/b');
    await store.rm('/w/rm/a'); // removing a parent: xenstored reports each watched node removed with it
    expect((await events.next()).value!.path).toBe('/w/rm/a/b');
    await events.return!();
  });

  it('delivers no stale events after unwatch, even with the same path and token again', async () => {
    const first = store.watch('/w/stale', { token: 'stale' });
    await first.next();
    for (let i = 0; i < 50; i++) store.writeSync(`/w/stale/k${i}`, String(i)); // events queue up unread
    await first.return!();
    const again = store.watch('/w/stale', { token: 'stale' });
    expect(await again.next()).toEqual({ value: { path: '/w/stale', token: 'stale' }, done: false });
    await tick();
    await store.write('/w/stale/after', '1');
    expect((await again.next()).value).toEqual({ path: '/w/stale/after', token: 'stale' });
    await again.return!();
  });

  it('reports a transaction\'s writes only when it commits, and never when it aborts', async () => {
    const events = store.watch('/w/tx');
    await events.next();
    const nothingYet = async () => {
      const next = events.next();
      const winner = await Promise.race([next.then(() => 'event'), new Promise((resolve) => setTimeout(resolve, 50, 'quiet'))]);
      return { winner, next };
    };
    let pending: Promise<IteratorResult<XenStoreWatchEvent>> | undefined;
    await store.transaction(async (tx) => {
      await tx.write('/w/tx/inside', '1');
      const { winner, next } = await nothingYet();
      expect(winner).toBe('quiet');
      pending = next;
    });
    expect((await pending!).value!.path).toBe('/w/tx/inside');
    await expect(store.transaction(async (tx) => {
      await tx.write('/w/tx/aborted', '1');
      throw new Error('abort it');
    })).rejects.toThrow('abort it');
    const { winner, next } = await nothingYet();
    expect(winner).toBe('quiet');
    await store.write('/w/tx/later', '1');
    expect((await next).value!.path).toBe('/w/tx/later');
    await events.return!();
  });

  it('delivers to several watchers and keeps one pending event per path', async () => {
    const a = store.watch('/w/multi');
    const b = store.watch('/w/multi/sub');
    await a.next();
    await b.next();
    for (let i = 0; i < 20; i++) await store.write('/w/multi/sub', String(i));
    await store.write('/w/multi/other', 'x');
    await tick();
    expect((await a.next()).value!.path).toBe('/w/multi/sub');
    expect((await a.next()).value!.path).toBe('/w/multi/other');
    expect((await b.next()).value!.path).toBe('/w/multi/sub');
    await a.return!();
    await b.return!();
  });

  it('reports watch errors from xenstored on the first next()', async () => {
    const held = store.watch('/w/dup', { token: 'dup' });
    await held.next();
    await expect(store.watch('/w/dup', { token: 'dup' }).next()).rejects.toMatchObject({ code: 'EEXIST', syscall: 'xs_watch' });
    expect(() => store.watch('bad//path')).toThrow(XenStoreError);
    await held.return!();
  });

  it('watches special paths such as @introduceDomain', async () => {
    const events = store.watch('@introduceDomain');
    expect((await events.next()).value!.path).toBe('@introduceDomain');
    await events.return!();
  });

  it('ends open iterators when the store closes', async () => {
    const own = XenStore.open({ path: daemon.current.socketPath, poolSize: 1 });
    const events = own.watch('/w/closing');
    await events.next();
    const pending = events.next();
    await own.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(() => own.watch('/w/closing')).toThrow(expect.objectContaining({ code: 'ERR_XENSTORE_CLOSED' }));
  });
});

// waitFor: the pipelined connection's own watch (the default) and a watch() on the libxenstore handle.
describe.each([{ transport: 'pipelined', pipelined: true }, { transport: 'libxenstore', pipelined: false }])('waitFor ($transport)', ({ transport, pipelined }) => {
  let waiter: XenStore;
  beforeAll(() => { waiter = XenStore.open({ path: daemon.current.socketPath, pipelined }); });
  afterAll(async () => { await waiter?.close(); });
  const base = `/wait-${transport}`;

  it('resolves at once with a value already there, and with a missing node as undefined', async () => {
    await store.write(`${base}/ready`, '4');
    expect(await waiter.waitFor(`${base}/ready`, (value) => value === '4', { timeoutMs: 5000 })).toEqual({ reached: true, value: '4' });
    expect(await waiter.waitFor(`${base}/none`, (value) => value === undefined, { timeoutMs: 5000 })).toEqual({ reached: true, value: undefined });
  });

  it('sees each later change, and a removal, until the predicate holds', async () => {
    await store.write(`${base}/state`, '1');
    const seen: (string | undefined)[] = [];
    const waiting = waiter.waitFor(`${base}/state`, (value) => { seen.push(value); return value === undefined; }, { timeoutMs: 5000 });
    await tick();
    await store.write(`${base}/state`, '5');
    await tick();
    await store.rm(`${base}/state`);
    expect(await waiting).toEqual({ reached: true, value: undefined });
    expect(seen[0]).toBe('1');
    expect(seen).toContain('5');
  });

  it('resolves with reached false after the timeout, and rejects with an AbortError on abort', async () => {
    await store.write(`${base}/stuck`, '1');
    expect(await waiter.waitFor(`${base}/stuck`, (value) => value === '6', { timeoutMs: 50 })).toEqual({ reached: false });
    const controller = new AbortController();
    const waiting = waiter.waitFor(`${base}/stuck`, (value) => value === '6', { timeoutMs: 5000, signal: controller.signal });
    await tick();
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await expect(waiter.waitFor(`${base}/stuck`, () => true, { timeoutMs: 10, signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
  });

  it('waits many times in a row, each on a watch of its own that it removes', async () => {
    await store.write(`${base}/many`, 'x');
    for (let i = 0; i < 300; i++) expect((await waiter.waitFor(`${base}/many`, () => true, { timeoutMs: 5000 })).reached).toBe(true);
  });

  it('refuses a bad path and a bad timeout', async () => {
    await expect(waiter.waitFor('relative', () => true, { timeoutMs: 10 })).rejects.toMatchObject({ code: 'EINVAL', syscall: 'xs_watch' });
    await expect(waiter.waitFor(`${base}/x`, () => true, { timeoutMs: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });
});
