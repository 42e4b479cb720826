// Every request, sync and async, against the real xenstored.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testDaemon, useLocalXenstored } from '../harness/xenstored.js';
import { loggedRequests, startLocalXenstored } from '../../lib/localxen/xenstored.js';
import { XenStore, XenStoreError, type XenStoreNode } from '../../lib/xenstore/index.js';

const daemon = useLocalXenstored();
const oxenstored = testDaemon() === 'oxenstored';
let store: XenStore;
beforeAll(() => { store = XenStore.open({ path: daemon.current.socketPath }); });
afterAll(async () => { await store?.close(); });

async function expectCode(promise: Promise<unknown> | (() => unknown), code: string): Promise<XenStoreError> {
  let error: unknown;
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (caught) {
    error = caught;
  }
  expect(error).toBeInstanceOf(XenStoreError);
  expect((error as XenStoreError).code).toBe(code);
  return error as XenStoreError;
}

describe('read / write / list / mkdir / rm', () => {
  it('round-trips values sync and async, and reads missing nodes as undefined', async () => {
    store.writeSync('/ops/sync', 'one');
    await store.write('/ops/async', 'two');
    expect(store.readSync('/ops/async')).toBe('two');
    expect(await store.read('/ops/sync')).toBe('one');
    expect(store.readSync('/ops/missing')).toBeUndefined();
    expect(await store.read('/ops/missing')).toBeUndefined();
    expect(await store.readBuffer('/ops/missing')).toBeUndefined();
    expect(store.readBufferSync('/ops/missing')).toBeUndefined();
  });

  it('keeps binary values with NUL bytes intact', async () => {
    const bytes = Buffer.from([0, 1, 2, 0, 255, 0x80, 0]);
    await store.write('/ops/binary', bytes);
    expect(await store.readBuffer('/ops/binary')).toEqual(bytes);
    store.writeSync('/ops/binary-sync', bytes);
    expect(store.readBufferSync('/ops/binary-sync')).toEqual(bytes);
    expect(await store.read('/ops/binary')).toBe(bytes.toString('utf8'));
    await store.write('/ops/empty', '');
    expect(await store.read('/ops/empty')).toBe('');
    await store.write('/ops/utf8', 'dömäin ✓');
    expect(store.readSync('/ops/utf8')).toBe('dömäin ✓');
  });

  it('lists children, makes directories and removes subtrees', async () => {
    await store.mkdir('/ops/dir/a');
    store.mkdirSync('/ops/dir/b');
    await store.write('/ops/dir/c', 'v');
    expect((await store.list('/ops/dir'))!.sort()).toEqual(['a', 'b', 'c']);
    expect(store.listSync('/ops/dir')!.sort()).toEqual(['a', 'b', 'c']);
    expect(await store.list('/ops/dir/a')).toEqual([]);
    expect(await store.list('/ops/nothing')).toBeUndefined();
    expect(store.listSync('/ops/nothing')).toBeUndefined();
    await store.rm('/ops/dir/a');
    store.rmSync('/ops/dir/b');
    expect(await store.list('/ops/dir')).toEqual(['c']);
    await store.rm('/ops/dir');
    expect(await store.read('/ops/dir/c')).toBeUndefined();
    await store.rm('/ops/dir'); // removing a missing node under an existing parent succeeds
  });

  it('refuses relative and malformed paths with EINVAL before anything reaches the daemon', async () => {
    for (const path of ['relative/key', '/trailing/', '/double//slash', '/with space', '/dot.ted', '/' + 'a'.repeat(3072)]) {
      const error = await expectCode(store.write(path, 'r'), 'EINVAL');
      expect(error).toMatchObject({ errno: 22, syscall: 'xs_write', path });
      await expectCode(() => store.readSync(path), 'EINVAL');
    }
    await expectCode(store.readMany(['/ok', 'relative']), 'EINVAL');
  });
});

describe('checks before crossing', () => {
  it('answers EINVAL and E2BIG without a request to xenstored', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-trace-'));
    const trace = join(dir, 'trace');
    // C xenstored's -T trace or oxenstored's access log: a line per request.
    const traced = await startLocalXenstored({ daemon: testDaemon(), requestLog: trace });
    const own = XenStore.open({ path: traced.socketPath, poolSize: 1 });
    try {
      own.readSync('/tool'); // the handle is open and traced
      const requests = () => loggedRequests(testDaemon(), readFileSync(trace, 'utf8')).length;
      const before = requests();
      expect(before).toBeGreaterThan(0);
      await expectCode(own.read('relative'), 'EINVAL');
      await expectCode(() => own.writeSync('/x', 'y'.repeat(4094)), 'E2BIG');
      await expectCode(own.write('/x', Buffer.alloc(4095)), 'E2BIG');
      await expectCode(own.readMany(['/a', 'b//c']), 'EINVAL');
      await expectCode(own.list('/a/'), 'EINVAL');
      await expectCode(own.list('/' + 'a'.repeat(3072)), 'EINVAL'); // beyond XENSTORE_ABS_PATH_MAX
      await expectCode(own.transaction((tx) => tx.read('nope')), 'EINVAL');
      expect(() => own.watch('no/slash')).toThrow(expect.objectContaining({ code: 'EINVAL', syscall: 'xs_watch' }));
      // the transaction's start and end are the only requests
      expect(requests() - before).toBe(2);
    } finally {
      await own.close();
      await traced.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('permissions', () => {
  it('round-trips owner and ACL entries sync and async', async () => {
    await store.write('/perm/node', 'x');
    const perms = [
      { domid: 5, read: false, write: false },
      { domid: 7, read: true, write: false },
      { domid: 9, read: true, write: true },
    ];
    await store.setPermissions('/perm/node', perms);
    expect(await store.getPermissions('/perm/node')).toEqual(perms);
    store.setPermissionsSync('/perm/node', [{ domid: 7, read: true, write: true }]);
    expect(store.getPermissionsSync('/perm/node')).toEqual([{ domid: 7, read: true, write: true }]);
  });

  // What a device add relies on to skip libxl's per-key permission requests (lib/devices/writes.ts).
  it('gives a node dom0 creates its parent\'s permissions, in a transaction or not, at any depth', async () => {
    const frontend = [{ domid: 7, read: false, write: false }, { domid: 0, read: true, write: false }];
    await store.transaction(async (tx) => {
      await tx.batch([
        { op: 'rm', path: '/perm/inherit' },
        { op: 'mkdir', path: '/perm/inherit' },
        { op: 'setPermissions', path: '/perm/inherit', perms: frontend },
        { op: 'write', path: '/perm/inherit/state', value: '1' },
        { op: 'write', path: '/perm/inherit/deep/key', value: '1' },
      ]);
    });
    await store.write('/perm/inherit/later', '1');
    for (const path of ['/perm/inherit/state', '/perm/inherit/deep', '/perm/inherit/deep/key', '/perm/inherit/later']) {
      expect(await store.getPermissions(path), path).toEqual(frontend);
    }
  });

  it('reports a missing node as ENOENT', async () => {
    const error = await expectCode(store.getPermissions('/perm/missing'), 'ENOENT');
    expect(error).toMatchObject({ errno: 2, syscall: 'xs_get_permissions', path: '/perm/missing' });
    await expectCode(() => store.getPermissionsSync('/perm/missing'), 'ENOENT');
    await expectCode(store.setPermissions('/perm/missing', [{ domid: 0, read: false, write: false }]), 'ENOENT');
  });
});

describe('interop with Debian\'s xenstore-utils', () => {
  const env = () => ({ ...process.env, XENSTORED_PATH: daemon.current.socketPath });

  it('xenstore-read reads what the addon writes, and the addon reads what xenstore-write writes', async () => {
    await store.write('/interop/ours', 'written by xen-domconfig');
    expect(execFileSync('xenstore-read', ['/interop/ours'], { env: env(), encoding: 'utf8' })).toBe('written by xen-domconfig\n');
    execFileSync('xenstore-write', ['/interop/theirs', 'written by xenstore-write', '/interop/dir/k', '2'], { env: env() });
    expect(await store.read('/interop/theirs')).toBe('written by xenstore-write');
    expect(store.readTreeSync('/interop/dir')).toEqual({ name: 'dir', value: '', children: [{ name: 'k', value: '2', children: [] }] });
  });

  it('permissions set here are the ones xenstore-ls -p shows, and the reverse', async () => {
    await store.write('/interop/perm', 'x');
    await store.setPermissions('/interop/perm', [
      { domid: 3, read: false, write: false },
      { domid: 5, read: true, write: false },
      { domid: 7, read: true, write: true },
    ]);
    expect(execFileSync('xenstore-ls', ['-p', '/interop'], { env: env(), encoding: 'utf8' })).toMatch(/perm = "x"[ .]*\(n3,r5,b7\)/);
    execFileSync('xenstore-chmod', ['/interop/perm', 'w9', 'r0'], { env: env() });
    expect(await store.getPermissions('/interop/perm')).toEqual([
      { domid: 9, read: false, write: true },
      { domid: 0, read: true, write: false },
    ]);
  });
});

describe('domains', () => {
  it('answers getDomainPath and isDomainIntroduced', async () => {
    expect(await store.getDomainPath(5)).toBe('/local/domain/5');
    expect(await store.isDomainIntroduced(0)).toBe(true);
    expect(await store.isDomainIntroduced(7)).toBe(false);
  });
});

describe('errors', () => {
  it('maps daemon errnos to codes with errno, syscall and path', async () => {
    const enoent = await expectCode(store.rm('/no-parent/child'), 'ENOENT');
    expect(enoent).toMatchObject({ errno: 2, syscall: 'xs_rm', path: '/no-parent/child', name: 'XenStoreError' });
    expect(enoent.message).toContain('/no-parent/child');
    const einval = await expectCode(store.read('bad//path'), 'EINVAL');
    expect(einval).toMatchObject({ errno: 22, syscall: 'xs_read' });
    await expectCode(() => store.writeSync('/bad path with spaces?', 'x'), 'EINVAL');
  });

  it('refuses values over the 4096-byte payload limit with E2BIG', async () => {
    await expectCode(store.write('/big', 'x'.repeat(5000)), 'E2BIG');
    await expectCode(() => store.writeSync('/big', Buffer.alloc(1 << 20)), 'E2BIG');
    // path + value over the limit: refused by libxenstore itself
    await expectCode(store.write('/big', 'x'.repeat(4092)), 'E2BIG');
    if (oxenstored) {
      // oxenstored refuses values over its quota-maxsize, 2048 bytes by
      // default, from dom0 too, whatever the path's length
      await expectCode(store.write('/big', 'x'.repeat(4090)), 'E2BIG');
      await expectCode(store.write('/big', 'x'.repeat(2049)), 'E2BIG');
      await store.write('/big/' + 'p'.repeat(1000), 'x'.repeat(2048));
      await store.write('/big', 'x'.repeat(2048));
      expect((await store.read('/big'))!.length).toBe(2048);
    } else {
      await store.write('/big', 'x'.repeat(4090));
      expect((await store.read('/big'))!.length).toBe(4090);
    }
  });

  it('rejects bad arguments with TypeErrors, not crashes', async () => {
    const bad: [string, () => unknown][] = [
      ['number path', () => store.readSync(42 as unknown as string)],
      ['object value', () => store.writeSync('/x', { toString: () => 'x' } as unknown as string)],
      ['readMany non-array', () => store.readManySync('/x' as unknown as string[])],
      ['readMany non-string', () => store.readManySync(['/x', 3 as unknown as string])],
      ['negative domid', () => store.isDomainIntroduced(-1)],
      ['fractional domid', () => store.getDomainPath(1.5)],
      ['huge domid', () => store.getDomainPath(1e12)],
      ['empty perms', () => store.setPermissionsSync('/x', [])],
      ['bad perm entry', () => store.setPermissionsSync('/x', [null as never])],
      ['bad perm domid', () => store.setPermissionsSync('/x', [{ domid: -3, read: true, write: false }])],
    ];
    for (const [label, call] of bad) {
      let error: unknown;
      try {
        await call();
      } catch (caught) {
        error = caught;
      }
      expect(error, label).toBeInstanceOf(TypeError);
      expect((error as { code: string }).code, label).toMatch(/^ERR_(INVALID_ARG_TYPE|INVALID_ARG_VALUE|OUT_OF_RANGE)$/);
    }
    await expect(store.read(undefined as unknown as string)).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    await expectCode(() => store.readSync('/a\0b'), 'EINVAL');
    await expectCode(() => store.readSync(''), 'EINVAL');
    const longPath = '/' + 'a'.repeat(5000);
    await expectCode(() => store.readSync(longPath), 'E2BIG');
    expect(() => XenStore.open({ path: daemon.current.socketPath, poolSize: 0 })).toThrow(RangeError);
  });
});

describe('batches', () => {
  beforeAll(() => {
    for (let i = 0; i < 40; i++) store.writeSync(`/batch/d${i}/name`, `dom${i}`);
    store.writeSync('/batch/d3/device/vbd/51712/backend', '/local/domain/0/backend/vbd/3/51712');
    store.writeSync('/batch/d3/device/vbd/51712/state', '4');
    store.writeSync('/batch/d3/device/vif/0/mac', '00:16:3e:00:00:03');
    store.writeSync('/batch/d3/data', Buffer.from([0x61, 0, 0x62]));
  });

  it('readMany matches per-key reads, with undefined for missing keys', async () => {
    const paths = Array.from({ length: 50 }, (_, i) => `/batch/d${i}/name`);
    const expected = paths.map((path) => store.readSync(path));
    expect(expected.filter((value) => value === undefined)).toHaveLength(10);
    expect(await store.readMany(paths)).toEqual(expected);
    expect(store.readManySync(paths)).toEqual(expected);
    expect(await store.readMany([])).toEqual([]);
    await expectCode(store.readMany(['/batch/d1/name', 'bad//path']), 'EINVAL');
  });

  it('batches and listings are pipelined on an own connection by default, on libxenstore with pipelined: false; same answers', async () => {
    const native = XenStore.open({ path: daemon.current.socketPath, pipelined: false });
    try {
      const paths = Array.from({ length: 50 }, (_, i) => `/batch/d${i}/name`);
      expect(await native.readMany(paths)).toEqual(await store.readMany(paths));
      expect(await native.readTree('/batch')).toEqual(await store.readTree('/batch'));
      expect(await native.readTree('/batch/none')).toBeUndefined();
      expect(await store.readTree('/batch/none')).toBeUndefined();
      expect(await store.list('/batch')).toEqual(await native.list('/batch'));
      expect(await store.list('/batch/none')).toBeUndefined();
    } finally {
      await native.close();
    }
  });

  it('a single batch uses one connection; a heavy load spreads over two, all answered in order', async () => {
    const sockets = () => readdirSync(`/proc/${daemon.current.pid}/fd`)
      .filter((fd) => { try { return readlinkSync(`/proc/${daemon.current.pid}/fd/${fd}`).startsWith('socket:'); } catch { return false; } }).length;
    const own = XenStore.open({ path: daemon.current.socketPath, poolSize: 1 });
    try {
      own.readSync('/batch'); // the libxenstore handle is open
      const before = sockets();
      const paths = Array.from({ length: 40 }, (_, i) => `/batch/d${i}/name`);
      const expected = paths.map((path) => own.readSync(path));
      expect(await own.readMany(paths)).toEqual(expected);
      expect(sockets() - before).toBe(1);
      const heavy = await Promise.all(Array.from({ length: 60 }, (_, i) => own.readMany(paths.map((_, k) => paths[(k + i) % paths.length]!))));
      heavy.forEach((values, i) => expect(values).toEqual(expected.map((_, k) => expected[(k + i) % expected.length])));
      const opened = sockets() - before;
      expect(opened).toBe(2);
    } finally {
      await own.close();
    }
  });

  it('batch runs its steps in order in one call, in a transaction or not: each result as the single request gives it', async () => {
    const perms = [{ domid: 0, read: false, write: false }, { domid: 7, read: true, write: false }];
    const results = await store.transaction((tx) => tx.batch([
      { op: 'rm', path: '/batched/w' },                  // missing: done
      { op: 'mkdir', path: '/batched/w' },
      { op: 'setPermissions', path: '/batched/w', perms },
      { op: 'write', path: '/batched/w/a', value: 'one' },
      { op: 'write', path: '/batched/w/b', value: Buffer.from('two') },
      { op: 'read', path: '/batched/w/a' },               // sees the writes before it
      { op: 'list', path: '/batched/w' },
      { op: 'read', path: '/batched/w/none' },
      { op: 'list', path: '/batched/w/none' },
    ]));
    expect(results).toEqual([undefined, undefined, undefined, undefined, undefined, 'one', ['a', 'b'], undefined, undefined]);
    expect(await store.getPermissions('/batched/w')).toEqual(perms);
    expect(await store.readMany(['/batched/w/a', '/batched/w/b'])).toEqual(['one', 'two']);
    expect(await store.batch([{ op: 'rm', path: '/batched/w/a' }, { op: 'read', path: '/batched/w/a' }])).toEqual([undefined, undefined]);
    expect(await store.batch([])).toEqual([]);
  });

  it('a failed step ends the batch with its error, the steps before it done; bad steps are refused before crossing', async () => {
    const error = await expectCode(store.batch([
      { op: 'write', path: '/batched/f/done', value: '1' },
      { op: 'setPermissions', path: '/batched/f/missing', perms: [{ domid: 0, read: false, write: false }] },
      { op: 'write', path: '/batched/f/never', value: '1' },
    ]), 'ENOENT');
    expect(error).toMatchObject({ path: '/batched/f/missing', syscall: 'xs_set_permissions' });
    expect(await store.readMany(['/batched/f/done', '/batched/f/never'])).toEqual(['1', undefined]);
    await expectCode(store.batch([{ op: 'read', path: '/batched/ok' }, { op: 'write', path: 'relative', value: 'x' }]), 'EINVAL');
    await expectCode(store.batch([{ op: 'write', path: '/batched/big', value: 'y'.repeat(4096) }]), 'E2BIG');
    for (const bad of [[{ op: 'readTree', path: '/batch' }], [null], 'steps', [{ op: 'setPermissions', path: '/batch', perms: [] }]]) {
      await expect(store.batch(bad as never), JSON.stringify(bad)).rejects.toMatchObject({ code: expect.stringMatching(/^ERR_INVALID_ARG_/) });
    }
  });

  it('readTree matches a walk with list and read', async () => {
    const walk = (path: string, name: string): XenStoreNode => ({
      name,
      value: store.readSync(path)!,
      children: (store.listSync(path) ?? []).map((child) => walk(`${path}/${child}`, child)),
    });
    const expected = walk('/batch/d3', 'd3');
    expect(expected.children.length).toBe(3);
    expect(await store.readTree('/batch/d3')).toEqual(expected);
    expect(store.readTreeSync('/batch/d3')).toEqual(expected);
    expect(await store.readTree('/batch/d3/device/vif/0/mac')).toEqual({ name: 'mac', value: '00:16:3e:00:00:03', children: [] });
    expect(await store.readTree('/batch/none')).toBeUndefined();
    const whole = store.readTreeSync('/batch')!;
    expect(whole.children).toHaveLength(40);
  });
});

describe('concurrency', () => {
  it('spreads many parallel async requests over the pool and answers each correctly', async () => {
    expect(store.poolSize).toBe(4);
    const count = 400;
    await Promise.all(Array.from({ length: count }, (_, i) => store.write(`/conc/k${i}`, `v${i}`)));
    const values = await Promise.all(Array.from({ length: count }, (_, i) => store.read(`/conc/k${i}`)));
    expect(values).toEqual(Array.from({ length: count }, (_, i) => `v${i}`));
    const mixed = await Promise.all([
      store.readTree('/conc'),
      store.readMany(['/conc/k1', '/conc/k2']),
      store.list('/conc'),
      ...Array.from({ length: 50 }, (_, i) => store.read(`/conc/k${i}`)),
    ]);
    expect((mixed[0] as XenStoreNode).children).toHaveLength(count);
    expect(mixed[1]).toEqual(['v1', 'v2']);
    expect((mixed[2] as string[]).length).toBe(count);
  });

  it('10,000 async operations from 20 concurrent callers, all answered correctly', async () => {
    const caller = async (id: number) => {
      for (let i = 0; i < 500; i += 50) {
        const keys = Array.from({ length: 50 }, (_, k) => `/conc10k/c${id}/k${i + k}`);
        await Promise.all(keys.map((key, k) => store.write(key, `${id}.${i + k}`)));
        const values = await Promise.all(keys.map((key) => store.read(key)));
        expect(values).toEqual(keys.map((_, k) => `${id}.${i + k}`));
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, id) => caller(id)));
    expect((await store.list('/conc10k'))!.length).toBe(20);
    expect((await store.readTree('/conc10k/c7'))!.children).toHaveLength(500);
  });
});
