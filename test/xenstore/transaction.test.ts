// Transactions against the real xenstored: commit, abort, and reruns on
// real conflicts (xenstored answers EAGAIN at commit).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDaemon, useLocalXenstored } from '../harness/xenstored.js';
import { XenStore, XenStoreError } from '../../lib/xenstore/index.js';

const daemon = useLocalXenstored();
let base: XenStore;
beforeAll(() => { base = XenStore.open({ path: daemon.current.socketPath }); });
afterAll(async () => { await base?.close(); });

/** The store, with its transactions on the transport under test. */
type TransactionsOf = XenStore;
function transactionsOf(store: XenStore, pipelined: boolean): TransactionsOf {
  return new Proxy(store, {
    get(target, key) {
      if (key === 'transaction') {
        return (fn: Parameters<XenStore['transaction']>[0], options: Parameters<XenStore['transaction']>[1] = {}) => target.transaction(fn, { pipelined, ...options });
      }
      const value: unknown = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => { resolve = r; });
  return { promise, resolve };
}

// Each test runs on a pipelined connection (the default) and on a libxenstore handle.
describe.each([
  { transport: 'pipelined', pipelined: true },
  { transport: 'libxenstore', pipelined: false },
])('transactions ($transport)', ({ pipelined }) => {
  let store: TransactionsOf;
  beforeAll(async () => {
    store = transactionsOf(base, pipelined);
    for (const top of ['/tx', '/tx-kinds', '/tx-partial']) await base.rm(top);
  });

  it('commits writes atomically and isolates them until commit', async () => {
    const result = await store.transaction(async (tx) => {
      expect(tx.id).toBeGreaterThan(0);
      await tx.write('/tx/a', '1');
      await tx.write('/tx/b', '2');
      expect(await store.read('/tx/a')).toBeUndefined(); // not visible outside yet
      expect(await tx.readMany(['/tx/a', '/tx/b'])).toEqual(['1', '2']);
      expect((await tx.readTree('/tx'))!.children.map((c) => c.name).sort()).toEqual(['a', 'b']);
      return 'done';
    });
    expect(result).toBe('done');
    expect(await store.readMany(['/tx/a', '/tx/b'])).toEqual(['1', '2']);
  });

  it('takes synchronous requests on a libxenstore handle only', async () => {
    await store.transaction(async (tx) => {
      if (pipelined) {
        expect(() => tx.writeSync('/tx/sync', '1')).toThrow(expect.objectContaining({ code: 'ERR_XENSTORE_PIPELINED_SYNC' }));
        expect(() => tx.readTreeSync('/tx')).toThrow(expect.objectContaining({ code: 'ERR_XENSTORE_PIPELINED_SYNC' }));
      } else {
        tx.writeSync('/tx/sync', '1');
        expect(tx.readTreeSync('/tx/sync')).toEqual({ name: 'sync', value: '1', children: [] });
      }
    });
    expect(await store.read('/tx/sync')).toBe(pipelined ? undefined : '1');
  });

  it('runs every request kind with the same results and errors', async () => {
    const owner = [{ domid: 0, read: false, write: false }, { domid: 7, read: true, write: false }];
    const seen = await store.transaction(async (tx) => {
      await tx.mkdir('/tx-kinds/dir');
      await tx.write('/tx-kinds/dir/v', Buffer.from([0xff, 0]));
      await tx.setPermissions('/tx-kinds/dir', owner);
      const results = await tx.batch([
        { op: 'write', path: '/tx-kinds/b/x', value: 'x' },
        { op: 'read', path: '/tx-kinds/b/x' },
        { op: 'read', path: '/tx-kinds/missing' },
        { op: 'list', path: '/tx-kinds/b' },
        { op: 'list', path: '/tx-kinds/missing' },
        { op: 'rm', path: '/tx-kinds/b/none' },
        { op: 'mkdir', path: '/tx-kinds/c' },
        { op: 'setPermissions', path: '/tx-kinds/c', perms: owner },
      ]);
      return {
        results,
        buffer: await tx.readBuffer('/tx-kinds/dir/v'),
        missing: [await tx.read('/tx-kinds/none'), await tx.list('/tx-kinds/none'), await tx.readTree('/tx-kinds/none')],
        perms: await tx.getPermissions('/tx-kinds/c'),
        list: await tx.list('/tx-kinds'),
        errors: await Promise.all([
          tx.getPermissions('/tx-kinds/none').catch((error: unknown) => error),
          tx.write('relative', 'x').catch((error: unknown) => error),
          tx.write('/tx-kinds/big', 'x'.repeat(5000)).catch((error: unknown) => error),
          tx.setPermissions('/tx-kinds/c', [{ domid: 70000, read: true, write: true }]).catch((error: unknown) => error),
          tx.batch([{ op: 'nope', path: '/x' } as never]).catch((error: unknown) => error),
        ]),
      };
    });
    expect(seen.results).toEqual([undefined, 'x', undefined, ['x'], undefined, undefined, undefined, undefined]);
    expect(seen.buffer).toEqual(Buffer.from([0xff, 0]));
    expect(seen.missing).toEqual([undefined, undefined, undefined]);
    expect(seen.perms).toEqual(owner);
    expect(seen.list!.sort()).toEqual(['b', 'c', 'dir']);
    expect(seen.errors.map((error) => (error as { code?: string }).code)).toEqual([
      'ENOENT', 'EINVAL', 'E2BIG', 'ERR_OUT_OF_RANGE', 'ERR_INVALID_ARG_VALUE',
    ]);
    expect(seen.errors[0]).toMatchObject({ name: 'XenStoreError', syscall: 'xs_get_permissions', path: '/tx-kinds/none' });
    expect(await store.getPermissions('/tx-kinds/dir')).toEqual(owner);
  });

  it('rejects a batch with its first failed step; a libxenstore batch stops there, a pipelined one ran the rest', async () => {
    const error = await store.transaction(async (tx) => {
      const failed = await tx.batch([
        { op: 'write', path: '/tx-partial/before', value: '1' },
        { op: 'setPermissions', path: '/tx-partial/missing', perms: [{ domid: 0, read: false, write: false }] }, // ENOENT
        { op: 'write', path: '/tx-partial/after', value: '1' },
      ]).catch((caught: unknown) => caught);
      expect(failed).toMatchObject({ code: 'ENOENT', syscall: 'xs_set_permissions', path: '/tx-partial/missing' });
    }).catch((caught: unknown) => caught);
    expect(error).toBeUndefined(); // the function caught it and returned: the transaction commits
    expect(await store.readMany(['/tx-partial/before', '/tx-partial/after'])).toEqual(['1', pipelined ? '1' : undefined]);
  });

  it('aborts and rethrows when fn throws', async () => {
    const failure = new Error('nope');
    await expect(store.transaction(async (tx) => {
      await tx.write('/tx/aborted', 'x');
      throw failure;
    })).rejects.toBe(failure);
    expect(await store.read('/tx/aborted')).toBeUndefined();
  });

  it('refuses requests on a transaction that has ended', async () => {
    let leaked: { read(path: string): Promise<unknown> } | undefined;
    await store.transaction(async (tx) => { leaked = tx; });
    await expect(leaked!.read('/tx/a')).rejects.toMatchObject({ code: 'ERR_XENSTORE_TRANSACTION_ENDED' });
  });

  it('reruns the whole function when another transaction commits a conflicting write first', async () => {
    await store.write('/tx/counter', '0');
    const loserRead = deferred();
    const winnerDone = deferred();
    let loserRuns = 0;
    const loser = store.transaction(async (tx) => {
      loserRuns++;
      const value = Number(await tx.read('/tx/counter'));
      if (loserRuns === 1) {
        loserRead.resolve();
        await winnerDone.promise;
      }
      await tx.write('/tx/counter', String(value + 1));
      return loserRuns;
    });
    await loserRead.promise;
    await store.transaction(async (tx) => {
      const value = Number(await tx.read('/tx/counter'));
      await tx.write('/tx/counter', String(value + 1));
    });
    winnerDone.resolve();
    expect(await loser).toBe(2);
    expect(await store.read('/tx/counter')).toBe('2');
  });

  it('serialises many concurrent read-modify-write transactions without lost updates', async () => {
    await store.write('/tx/many', '0');
    const writers = 12;
    await Promise.all(Array.from({ length: writers }, () => store.transaction(async (tx) => {
      const value = Number(await tx.read('/tx/many'));
      await new Promise((resolve) => setTimeout(resolve, 1));
      await tx.write('/tx/many', String(value + 1));
    }, { maxRetries: 100 })));
    expect(await store.read('/tx/many')).toBe(String(writers));
  });

  it('gives up after maxRetries with an EAGAIN error that reports the attempts', async () => {
    await store.write('/tx/hot', '0');
    let runs = 0;
    const error = await store.transaction(async (tx) => {
      runs++;
      await tx.read('/tx/hot');
      await store.write('/tx/hot', String(runs)); // a conflicting write outside the transaction
      await tx.write('/tx/hot', 'mine');
    }, { maxRetries: 2 }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(XenStoreError);
    expect(error).toMatchObject({ code: 'EAGAIN', attempts: 3, syscall: 'xs_transaction_end' });
    expect((error as Error).message).toContain('3 attempts');
    expect((error as Error).cause).toBeInstanceOf(XenStoreError);
    expect(runs).toBe(3);
    expect(await store.read('/tx/hot')).toBe('3');
  });

  it('stops with an AbortError when the signal aborts', async () => {
    const controller = new AbortController();
    const reason = new Error('stop');
    const error = await store.transaction(async (tx) => {
      await tx.write('/tx/signalled', 'x');
      controller.abort(reason);
    }, { signal: controller.signal }).catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
    expect(await store.read('/tx/signalled')).toBeUndefined();
    await expect(store.transaction(async () => 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'ABORT_ERR' });
  });

  // C xenstored reads what a transaction has not written itself from the live
  // store: an rm whose subtree another commit cut into answers EIO, an rm of a
  // node whose parent another commit removed answers EINVAL. Both are conflicts.
  // oxenstored runs the transaction on a snapshot, so both rms succeed; at
  // commit it replays the transaction's requests on the current store, and as
  // every reply is the same as before, it commits without a rerun. Either way
  // the end state is the other commit's, then the transaction's.
  it.each([
    // a new child: the transaction's own copy of /tx-eio/x lists a, which the other commit removes
    { code: 'EIO', written: '/tx-eio/x/b', existing: false, removedByOther: '/tx-eio/x/a', removed: '/tx-eio/x',
      top: '/tx-eio', after: [] },
    // an existing node: the transaction has its own copy of x, not of its parent p
    { code: 'EINVAL', written: '/tx-einval/p/x', existing: true, removedByOther: '/tx-einval/p', removed: '/tx-einval/p/x',
      top: '/tx-einval', after: [{ name: 'p', value: '', children: [] }] },
  ])('treats $code from an rm that another commit raced as a conflict, and reruns', async ({ code, written, existing, removedByOther, removed, top, after }) => {
    const other = XenStore.open({ path: daemon.current.socketPath, poolSize: 1 });
    try {
      const attempt = async (maxRetries: number) => {
        store.writeSync(`${removedByOther}/k`, '1');
        if (existing) store.writeSync(written, '1');
        let runs = 0;
        const outcome = await store.transaction(async (tx) => {
          runs++;
          await tx.write(written, '2');
          if (runs === 1) await other.rm(removedByOther);
          await tx.rm(removed);
        }, { maxRetries }).then(() => 'committed', (error: XenStoreError) => error);
        return { outcome, runs };
      };
      const once = await attempt(0);
      if (testDaemon() === 'oxenstored') {
        expect(once).toEqual({ outcome: 'committed', runs: 1 });
        expect(await store.readTree(top)).toEqual({ name: top.slice(1), value: '', children: after });
        expect(await attempt(16)).toEqual({ outcome: 'committed', runs: 1 });
      } else {
        expect(once.outcome).toMatchObject({ code: 'EAGAIN', cause: { code, syscall: 'xs_rm' } });
        expect(await attempt(16)).toEqual({ outcome: 'committed', runs: 2 });
      }
      expect(await store.read(removed)).toBeUndefined();
      expect(await store.readTree(top)).toEqual({ name: top.slice(1), value: '', children: after });
    } finally {
      await other.close();
    }
  });

  it('rejects a bad maxRetries', async () => {
    await expect(store.transaction(async () => 1, { maxRetries: -1 })).rejects.toMatchObject({ code: 'ERR_OUT_OF_RANGE' });
  });
});
