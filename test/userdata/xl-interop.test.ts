// xen-domconfig and the real xl/libxl 4.17 (../shared/fakexen) on the same
// domain: the same file names, each other's templates, and mutual exclusion
// through the domain-userdata lock in both directions.
//
// To make xl hold the lock long enough, xl is first made to wait for our
// lock; then the fake host's xenstored is stopped (SIGSTOP) and we release:
// xl takes the lock and blocks on its next xenstore request while holding
// it, until xenstored is continued.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TemplateStore } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { fakexenAvailable, useFakexen, type FakexenInstance } from '../harness/fakexen.js';

const unavailable = fakexenAvailable();
if (unavailable) console.warn(`skipping xl interop tests: ${unavailable}`);

const NAME = 'udinterop';
const UUID = '5e5e5e5e-1234-4000-8000-00000000abcd';

interface FlockEntry { pid: number; inode: bigint; waiting: boolean }

/** FLOCK entries of /proc/locks: holders, and blocked waiters ("->"). */
function flocks(): FlockEntry[] {
  const entries: FlockEntry[] = [];
  for (const line of readFileSync('/proc/locks', 'utf8').split('\n')) {
    const match = /^\d+:\s+(->\s+)?FLOCK\s+\S+\s+WRITE\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (match) entries.push({ waiting: match[1] !== undefined, pid: Number(match[2]), inode: BigInt(match[3]!) });
  }
  return entries;
}

function lockInode(path: string): bigint | undefined {
  return statSync(path, { bigint: true, throwIfNoEntry: false })?.ino;
}

async function until(condition: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function exitOf(child: ReturnType<FakexenInstance['spawnXl']>): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  child.stdout!.resume();
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stderr })));
}

describe.skipIf(unavailable !== undefined)('with the real xl', () => {
  const fx = useFakexen({ name: 'userdata' });
  let xs: XenStore;
  let store: TemplateStore;
  let domid: number;

  beforeAll(async () => {
    const cfg = join(fx.current.env.FAKEXEN_RUN, `${NAME}.cfg`);
    writeFileSync(cfg, [
      `name = "${NAME}"`, 'type = "pv"', 'memory = 64', `uuid = "${UUID}"`,
      'kernel = "/usr/lib/fakexen/mini-pv.elf"', 'disk = [\'phy:/dev/vg/guest,xvda,w\']', '',
    ].join('\n'));
    const created = await fx.current.xl('create', cfg);
    expect(created.code, created.stderr).toBe(0);
    const id = await fx.current.xl('domid', NAME);
    domid = Number(id.stdout.trim());
    xs = XenStore.open({ path: fx.current.env.XENSTORED_PATH });
    store = new TemplateStore({ xenstore: xs, dir: fx.current.env.FAKEXEN_USERDATA_DIR });
  }, 120_000);
  afterAll(async () => { await xs?.close(); });

  const disks = async () => (JSON.parse(await store.readText(domid)) as { disks: { vdev: string }[] }).disks.map((disk) => disk.vdev);

  it('finds the template xl wrote, under the same name, and parses it', async () => {
    expect(await store.domainUuid(domid)).toBe(UUID);
    const { data } = store.paths(domid, UUID);
    expect(data).toBe(join(fx.current.env.FAKEXEN_USERDATA_DIR, `userdata-d.${domid}.${UUID}.libxl-json`));
    expect(readFileSync(data).at(-1)).toBe(0);
    expect(JSON.parse(await store.readText(domid))).toMatchObject({ c_info: { name: NAME, uuid: UUID } });
    await expect(store.read(domid)).resolves.toBeTruthy();
  });

  it('dom0 (no vm node in xenstore) has the nil uuid of the file xen-init-dom0 wrote, and is read and locked with it', async () => {
    const name = readdirSync(fx.current.env.FAKEXEN_USERDATA_DIR).find((file) => /^userdata-d\.0\..*\.libxl-json$/.test(file));
    const uuid = name!.split('.')[2]!;
    expect(await store.domainUuid(0)).toBe(uuid);
    const text = await store.withLock(0, () => store.readText(0));
    expect(JSON.parse(text)).toMatchObject({ c_info: { type: 'pv' } });
    await expect(store.read(0)).resolves.toBeTruthy();
  });

  it('xl list -l reads a template we wrote', async () => {
    await store.withLock(domid, async () => {
      const template = JSON.parse(await store.readText(domid)) as Record<string, unknown>;
      await store.write(domid, JSON.stringify({ ...template, on_crash: 'preserve' }, null, 4));
    });
    const listed = await fx.current.xl('list', '-l', NAME);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ config: { on_crash: 'preserve' } }]);
  });

  it('xl block-attach waits while we hold the lock, then sees what we wrote under it', async () => {
    const { lock } = store.paths(domid, UUID);
    const release = await store.lock(domid);
    let released = false;
    try {
      const xl = fx.current.spawnXl(['block-attach', NAME, 'phy:/dev/vg/data,xvdb,r']);
      const exit = exitOf(xl);
      await until(() => flocks().some((entry) => entry.waiting && entry.pid === xl.pid && entry.inode === lockInode(lock)),
        'xl to block on our lock');
      const template = JSON.parse(await store.readText(domid)) as Record<string, unknown>;
      await store.write(domid, JSON.stringify({ ...template, on_reboot: 'preserve' }));
      await release();
      released = true;
      const { code, stderr } = await exit;
      expect(code, stderr).toBe(0);
    } finally {
      if (!released) await release();
    }
    expect(JSON.parse(await store.readText(domid))).toMatchObject({ on_reboot: 'preserve' });
    expect(await disks()).toEqual(['xvda', 'xvdb']);
  });

  it('we wait while xl holds the lock', async () => {
    const { lock } = store.paths(domid, UUID);
    const xenstored = fx.current.pid('xenstored');
    const release = await store.lock(domid, { uuid: UUID });
    const xl = fx.current.spawnXl(['block-attach', NAME, 'phy:/dev/vg/scratch,xvdc,r']);
    const exit = exitOf(xl);
    let stopped = false;
    try {
      await until(() => flocks().some((entry) => entry.waiting && entry.pid === xl.pid && entry.inode === lockInode(lock)),
        'xl to block on our lock');
      process.kill(xenstored, 'SIGSTOP');
      stopped = true;
      await release();
      await until(() => flocks().some((entry) => !entry.waiting && entry.pid === xl.pid && entry.inode === lockInode(lock)),
        'xl to hold the lock');

      await expect(store.lock(domid, { uuid: UUID, timeoutMs: 200 })).rejects.toMatchObject({ code: 'ELOCKTIMEOUT' });
      let acquired = false;
      const waiting = store.lock(domid, { uuid: UUID, timeoutMs: 60_000 }).then((releaseAgain) => { acquired = true; return releaseAgain; });
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(acquired).toBe(false);

      process.kill(xenstored, 'SIGCONT');
      stopped = false;
      const releaseAgain = await waiting;
      try {
        expect(await disks()).toEqual(['xvda', 'xvdb', 'xvdc']);
      } finally {
        await releaseAgain();
      }
      const { code, stderr } = await exit;
      expect(code, stderr).toBe(0);
    } finally {
      if (stopped) process.kill(xenstored, 'SIGCONT');
      await release();
    }
  });

  it('xl locks a lock file we kept as it finds it, and its release removes it', async () => {
    const { lock } = store.paths(domid, UUID);
    await (await store.lock(domid))({ keepLockFile: true });
    expect(lockInode(lock)).toBeDefined();
    const listed = await fx.current.xl('list', '-l', NAME);
    expect(listed.code, listed.stderr).toBe(0);
    expect(JSON.parse(listed.stdout)).toMatchObject([{ config: { c_info: { uuid: UUID } } }]);
    expect(lockInode(lock)).toBeUndefined();
  });

  it('removeAll removes the domain\'s userdata but no other domain\'s, and xl destroy still works', async () => {
    const dir = fx.current.env.FAKEXEN_USERDATA_DIR;
    const before = readdirSync(dir);
    const ours = before.filter((name) => name.startsWith('userdata-') && name.includes(`.${domid}.${UUID}.`));
    expect(ours).toContain(`userdata-d.${domid}.${UUID}.libxl-json`);
    expect(before.some((name) => name.startsWith('userdata-d.0.'))).toBe(true); // dom0's, from xen-init-dom0

    const removed = await store.withLock(domid, () => store.removeAll(domid));
    expect(removed.sort()).toEqual(ours.map((name) => join(dir, name)).sort());
    expect(readdirSync(dir).sort()).toEqual(before.filter((name) => !ours.includes(name)).sort());
    expect(await store.readText(domid).catch((error: { code?: string }) => error.code)).toBe('ENOTEMPLATE');
    await (await store.lock(domid))({ keepLockFile: true });
    const destroyed = await fx.current.xl('destroy', NAME);
    expect(destroyed.code, destroyed.stderr).toBe(0);
    // xl's destroy takes the lock and its release removes the file we kept.
    expect(readdirSync(dir).filter((name) => name.includes(`.${domid}.${UUID}.`))).toEqual([]);
  });
});
