// What can lose events: xenstored killed and another one started on the same
// socket, and a flood of writes to watched paths. The mirror says it is
// stale, resyncs, emits what changed meanwhile, and ends equal to a fresh
// list -l; a flood costs bounded memory and a bounded backlog of events.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatDomainConfig, parseDomainConfig } from '../../lib/config/index.js';
import { XenHost } from '../../lib/host.js';
import { startLocalXenstored, type LocalXenstoredDaemon, type LocalXenstoredOptions } from '../../lib/localxen/xenstored.js';
import type { MirrorEvent } from '../../lib/mirror/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { XenStoreWireClient as WireClient } from '../../lib/xenstore/wire-client.js';
import { createDomain, tempUserdataDir, uuidOf } from '../domain/fixture.js';
import { nextEvent, untilEqual } from './helpers.js';

const userdata = tempUserdataDir();
afterAll(() => userdata.remove());

const FLOOD_WRITES = Number(process.env.XEN_DOMCONFIG_MIRROR_FLOOD ?? 100_000);

async function populate(store: XenStore, domains: [number, string][]): Promise<void> {
  await store.write('/local/domain/0/name', 'Domain-0');
  for (const [domid, name] of domains) await createDomain(store, userdata.dir, { domid, name, type: 'pv' });
}

/** The events already waiting, without waiting for more. */
async function waiting(events: AsyncIterator<MirrorEvent>): Promise<MirrorEvent[]> {
  const taken: MirrorEvent[] = [];
  for (;;) {
    const next = await Promise.race([events.next(), new Promise<'none'>((resolve) => setImmediate(() => resolve('none')))]);
    if (next === 'none') return taken;
    if (next.done) return taken;
    taken.push(next.value);
  }
}

/**
 * A relay in front of xenstored's socket, in a process of its own (a watch is
 * set by a blocking call, which would stall a relay in this event loop).
 * cut('all') closes every connection made through it, as a daemon dropping
 * its clients would, with the daemon and its state untouched; cut('watch')
 * only those whose first request was XS_WATCH (a watch handle's). The next
 * connection goes through again.
 */
async function relay(socketPath: string): Promise<{ path: string; cut(which: 'all' | 'watch'): Promise<void>; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-relay-'));
  const path = join(dir, 'socket');
  const program = `const net = require('node:net'); const open = new Map(); const XS_WATCH = 4;
    net.createServer((client) => {
      const daemon = net.createConnection(process.argv[2]);
      const connection = { watching: false };
      client.once('data', (chunk) => { connection.watching = chunk.length >= 4 && chunk.readUInt32LE(0) === XS_WATCH; });
      for (const [from, to] of [[client, daemon], [daemon, client]]) {
        open.set(from, connection); from.pipe(to);
        from.on('close', () => { open.delete(from); to.destroy(); }); from.on('error', () => {});
      }
    }).listen(process.argv[1], () => process.stdout.write('listening\\n'));
    require('node:readline').createInterface({ input: process.stdin }).on('line', (which) => {
      for (const [socket, connection] of open) if (which === 'all' || connection.watching) socket.destroy();
      process.stdout.write('cut\\n');
    });`;
  const child = spawn(process.execPath, ['-e', program, path, socketPath], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const line = async () => (await lines.next()).value as string;
  expect(await line()).toBe('listening');
  return {
    path,
    cut: async (which) => {
      child.stdin!.write(`${which}\n`);
      expect(await line()).toBe('cut');
    },
    close: async () => {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe('ConfigMirror faults', () => {
  it('xenstored killed and another started on its socket: stale, then what changed, then current', async () => {
    const first = await startLocalXenstored();
    const second = await startLocalXenstored();
    const store = XenStore.open({ path: first.socketPath });
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    const mirror = host.mirror();
    try {
      await populate(store, [[1, 'one'], [2, 'two']]);
      await mirror.ready;
      await untilEqual(mirror, host);
      const events = mirror.events();
      // The next daemon holds the state the first one will have had: 1 renamed, 2 gone, 3 new.
      const next = XenStore.open({ path: second.socketPath });
      await populate(next, [[1, 'one-renamed'], [3, 'three']]);
      await next.close();
      process.kill(first.pid, 'SIGKILL');
      expect(await nextEvent(events, () => true)).toMatchObject({ type: 'stale', reason: { code: 'ERR_XENSTORE_CONNECTION_LOST' } });
      expect(mirror.state).toBe('stale');
      await first.stop();
      mkdirSync(first.rundir, { recursive: true });
      renameSync(second.socketPath, first.socketPath);
      const seen: MirrorEvent[] = [];
      while (seen.at(-1)?.type !== 'current') seen.push(await nextEvent(events, () => true));
      expect(seen.map((event) => ('domid' in event ? `${event.type} ${event.domid}` : event.type)).sort())
        .toEqual(['added 3', 'changed 1', 'current', 'removed 2']);
      expect(seen.find((event) => event.type === 'changed')).toMatchObject({ changes: [{ path: 'config.c_info.name', old: 'one', new: 'one-renamed' }] });
      expect(seen.at(-1)!.type).toBe('current');
      await untilEqual(mirror, host);
    } finally {
      await mirror.close();
      await store.close();
      await second.stop();
      rmSync(first.rundir, { recursive: true, force: true });
    }
  });

  it.each<['all' | 'watch', string]>([
    ['all', 'its connections closed under it'],
    ['watch', 'only its watch connection closed (the check request finds it)'],
  ])('%s: %s, xenstored still running: stale, then what changed meanwhile, then current', async (which) => {
    const daemon = await startLocalXenstored();
    const through = await relay(daemon.socketPath);
    const direct = XenStore.open({ path: daemon.socketPath });
    const store = XenStore.open({ path: through.path, watchCheckMs: 50 });
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    await populate(direct, [[31, 'thirty-one'], [32, 'thirty-two']]);
    const mirror = host.mirror();
    try {
      await mirror.ready;
      const events = mirror.events();
      await through.cut(which);
      expect(await nextEvent(events, () => true)).toMatchObject({ type: 'stale', reason: { code: 'ERR_XENSTORE_CONNECTION_LOST' } });
      // Written while no watch of the mirror is registered: only the resync can see it.
      await direct.write('/local/domain/31/memory/target', '123456');
      const seen: MirrorEvent[] = [];
      while (seen.at(-1)?.type !== 'current') seen.push(await nextEvent(events, () => true));
      expect(seen.map((event) => ('domid' in event ? `${event.type} ${event.domid}` : event.type))).toEqual(['changed 31', 'current']);
      expect(seen[0]).toMatchObject({ changes: [{ path: 'config.b_info.target_memkb', old: expect.any(BigInt), new: 123456n }] });
      await untilEqual(mirror, host);
    } finally {
      await mirror.close();
      await store.close();
      await direct.close();
      await through.close();
      await daemon.stop();
    }
  });

  it.each<[LocalXenstoredDaemon, LocalXenstoredOptions]>([
    ['xenstored', { args: ['--watch-nb', '5'] }],
    ['oxenstored', { oxenstoredConfig: { 'quota-maxwatch': 5 } }],
  ])('%s with a watch quota of 5: dom0 is exempt, so a mirror of 3 domains (over 5 watches each) is current', async (name, options) => {
    const daemon = await startLocalXenstored({ daemon: name, ...options });
    const store = XenStore.open({ path: daemon.socketPath });
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    await populate(store, [[41, 'forty-one'], [42, 'forty-two'], [43, 'forty-three']]);
    const mirror = host.mirror();
    try {
      await mirror.ready;
      await store.write('/local/domain/42/memory/target', '222222');
      await untilEqual(mirror, host);
      expect(mirror.get(42)).toMatchObject({ config: { b_info: { target_memkb: 222222n } } });
    } finally {
      await mirror.close();
      await store.close();
      await daemon.stop();
    }
  });

  it(`a flood of ${FLOOD_WRITES} writes to watched paths: few reads, a backlog of one event per domain, bounded memory`, async () => {
    const daemon = await startLocalXenstored();
    const store = XenStore.open({ path: daemon.socketPath });
    let requests = 0;
    // Reads wait while the flood runs, so what is folded does not hang on how fast this machine is.
    let flooding: Promise<void> | undefined;
    const counted = async <T>(count: number, read: () => Promise<T>): Promise<T> => {
      requests += count;
      await flooding;
      return read();
    };
    const reader = {
      readMany: (paths: readonly string[]) => counted(paths.length, () => store.readMany(paths)),
      readTree: (path: string) => counted(1, () => store.readTree(path)),
      list: (path: string) => counted(1, () => store.list(path)),
    };
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir, reader });
    await populate(store, [[11, 'a'], [12, 'b'], [13, 'c']]);
    const mirror = host.mirror();
    const wire = await WireClient.connect(daemon.socketPath);
    try {
      await mirror.ready;
      const events = mirror.events(); // not read during the flood: a consumer that falls behind
      global.gc?.();
      const before = process.memoryUsage();
      const requestsBefore = requests;
      let floodEnded!: () => void;
      flooding = new Promise((resolve) => { floodEnded = resolve; });
      const paths = ['/local/domain/11/memory/target', '/libxl/12/device/vbd/51712/dev', '/local/domain/13/cpu/0/availability'];
      for (let sent = 0; sent < FLOOD_WRITES; sent += 1000) {
        await Promise.all(Array.from({ length: 1000 }, (_, i) => {
          const n = sent + i;
          const path = paths[n % paths.length]!;
          return wire.write(path, path.endsWith('availability') ? (n % 2 ? 'online' : 'offline') : String(262144 + (n % 1000)));
        }));
      }
      // The last values stay: each domain's entry is what list -l gives now.
      await wire.write('/local/domain/11/memory/target', '200000');
      flooding = undefined;
      floodEnded();
      await untilEqual(mirror, host);
      const after = process.memoryUsage();
      // One read in flight per domain, and all of its writes meanwhile folded into one more:
      // a few reads of three domains (a read is some 20 requests), not one per write.
      expect(requests - requestsBefore).toBeLessThan(1000);
      expect(after.rss - before.rss).toBeLessThan(64 * 1024 * 1024);
      const backlog = await waiting(events);
      expect(backlog.length).toBeLessThanOrEqual(3);
      expect(new Set(backlog.map((event) => ('domid' in event ? event.domid : -1))).size).toBe(backlog.length);
      expect(mirror.state).toBe('current');
    } finally {
      await wire.close();
      await mirror.close();
      await store.close();
      await daemon.stop();
    }
  }, 180_000);

  it("a full inotify queue (the events libuv drops unseen): the folder's next look finds the template changed", async () => {
    const daemon = await startLocalXenstored();
    const store = XenStore.open({ path: daemon.socketPath });
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    await populate(store, [[21, 'q']]);
    const mirror = host.mirror({ folderCheckMs: 100 });
    try {
      await mirror.ready;
      const events = mirror.events();
      const template = host.templates.paths(21, uuidOf(21)).data;
      const config = parseDomainConfig(readFileSync(template));
      config.on_crash = 'preserve';
      const queued = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8'));
      // Blocked in execFileSync, this process reads no inotify events while another fills the
      // queue past its limit and then changes the template: that change's event is lost.
      const flood = `const fs = require('node:fs'); const dir = process.argv[1];
        for (let i = 0; i < ${queued} + 1000; i++) fs.writeFileSync(dir + '/flood', String(i));
        fs.rmSync(dir + '/flood');
        const [path, text] = [process.argv[2], process.argv[3]];
        fs.writeFileSync(path + '.tmp', text + '\\0'); fs.renameSync(path + '.tmp', path);`;
      execFileSync(process.execPath, ['-e', flood, userdata.dir, template, formatDomainConfig(config)]);
      expect(await nextEvent(events, (event) => 'domid' in event && event.domid === 21)).toMatchObject({
        type: 'changed', changes: [{ path: 'config.on_crash', old: 'destroy', new: 'preserve' }],
      });
      await untilEqual(mirror, host);
    } finally {
      await mirror.close();
      await store.close();
      await daemon.stop();
    }
  });
});
