// The domain-userdata lock between processes: another node process holding
// it through TemplateStore, a holder killed while holding it, and libxl's
// inode check (the file unlinked and recreated by a previous holder while we
// wait on the old inode).
import { existsSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { TemplateStore } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { spawnChild, type Child } from './child.js';

const xsd = useLocalXenstored();
const DOMID = 12;
const UUID = '0d5e5a9e-77a4-4c1b-9f0e-3a52c4f1b2d3';

let xs: XenStore;
let dir: string;
let store: TemplateStore;
let children: Child[] = [];

beforeAll(async () => {
  xs = XenStore.open({ path: xsd.current.socketPath });
  await xs.write(`/local/domain/${DOMID}/vm`, `/vm/${UUID}`);
});
afterAll(async () => { await xs?.close(); });
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-lockproc-'));
  store = new TemplateStore({ xenstore: xs, dir });
});
afterEach(async () => {
  for (const child of children) child.process.kill('SIGKILL');
  await Promise.all(children.map((child) => child.exited));
  children = [];
  rmSync(dir, { recursive: true, force: true });
});

function child(script: string, args: string[]): Child {
  const spawned = spawnChild(script, args);
  children.push(spawned);
  return spawned;
}

/** Tracks whether a promise has settled yet. */
function track<T>(promise: Promise<T>): { promise: Promise<T>; settled: () => boolean } {
  let settled = false;
  void promise.then(() => { settled = true; }, () => { settled = true; });
  return { promise, settled: () => settled };
}

/** A process's open descriptors of `path` (default: ours), marking unlinked ones. */
function openDescriptorsOf(path: string, pid: number | 'self' = 'self'): string[] {
  const found: string[] = [];
  let fds: string[];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return found; // not started yet, or gone
  }
  for (const fd of fds) {
    let target: string;
    try {
      target = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      continue;
    }
    if (target === path) found.push('current');
    else if (target === `${path} (deleted)`) found.push('deleted');
  }
  return found;
}

async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('lock between processes', () => {
  it('a lock held by another process is waited for, then taken', async () => {
    const holder = child('lock-holder.ts', ['store', xsd.current.socketPath, dir, String(DOMID), UUID]);
    await holder.line('locked');
    expect((await store.lock(DOMID, { timeoutMs: 100 }).catch((e: { code?: string }) => e))).toMatchObject({ code: 'ELOCKTIMEOUT' });

    const waiting = track(store.lock(DOMID, { timeoutMs: 20_000 }));
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(waiting.settled()).toBe(false);
    holder.send('release');
    await holder.line('released');
    const release = await waiting.promise;
    expect(existsSync(store.paths(DOMID, UUID).lock)).toBe(true);
    await release();
    expect(await holder.exited).toEqual({ code: 0, signal: null });
  });

  it('a waiter in another process takes a file we release with keepLockFile, still at its path', async () => {
    const release = await store.lock(DOMID);
    const { lock } = store.paths(DOMID, UUID);
    const kept = statSync(lock).ino;
    const waiter = child('lock-holder.ts', ['store', xsd.current.socketPath, dir, String(DOMID), UUID]);
    await until(() => openDescriptorsOf(lock, waiter.pid).includes('current'), 'the child to wait on the lock file');
    const locked = track(waiter.line('locked', 60_000));
    await release({ keepLockFile: true });
    await locked.promise;
    expect(statSync(lock).ino).toBe(kept);
    expect(await store.lock(DOMID, { timeoutMs: 50 }).catch((e: { code?: string }) => e.code)).toBe('ELOCKTIMEOUT');
    waiter.send('release');
    await waiter.line('released');
    expect(existsSync(lock)).toBe(false);
  });

  it('the other process waits for us', async () => {
    const release = await store.lock(DOMID);
    const waiter = child('lock-holder.ts', ['store', xsd.current.socketPath, dir, String(DOMID), UUID]);
    // The waiter has the lock file open once it is polling flock on it.
    await until(() => openDescriptorsOf(store.paths(DOMID, UUID).lock, waiter.pid).includes('current'), 'the child to open the lock file');
    const early = track(waiter.line('locked', 60_000));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(early.settled()).toBe(false);
    await release();
    await early.promise;
    waiter.send('release');
    await waiter.line('released');
  });

  it('a holder killed with SIGKILL releases the lock (the stale file stays and is reused)', async () => {
    const holder = child('lock-holder.ts', ['store', xsd.current.socketPath, dir, String(DOMID), UUID]);
    await holder.line('locked');
    const { lock } = store.paths(DOMID, UUID);
    const inode = statSync(lock).ino;
    const waiting = store.lock(DOMID, { timeoutMs: 20_000 });
    holder.process.kill('SIGKILL');
    await holder.exited;
    const release = await waiting;
    expect(statSync(lock).ino).toBe(inode);
    await release();
    expect(existsSync(lock)).toBe(false);
  });

  it('a waiter that wins flock on an unlinked inode starts again on the new file (libxl\'s inode check)', async () => {
    const { lock } = store.paths(DOMID, UUID);
    const holder = child('lock-holder.ts', ['raw', lock]);
    await holder.line('locked');
    const firstInode = statSync(lock).ino;
    const waiting = track(store.lock(DOMID, { timeoutMs: 30_000 }));
    await until(() => openDescriptorsOf(lock).includes('current'), 'our wait on the first lock file');

    // The holder unlinks the file, locks a new one at the path, then lets go
    // of the first inode: our flock on it now succeeds, but must not count.
    holder.send('swap');
    await holder.line('swapped');
    expect(statSync(lock).ino).not.toBe(firstInode);
    await until(() => openDescriptorsOf(lock).includes('current') || waiting.settled(), 'our wait on the new lock file');
    expect(waiting.settled()).toBe(false);
    expect(openDescriptorsOf(lock)).toEqual(['current']);

    holder.send('release');
    await holder.line('released');
    // The holder unlinked the second file too: we hold a third, created by us.
    const release = await waiting.promise;
    expect(openDescriptorsOf(lock)).toEqual(['current']);
    await release();
    expect(openDescriptorsOf(lock)).toEqual([]);
  });
});
