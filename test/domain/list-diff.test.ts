// listDomains (short and long, failures per domain), diffDomainConfiguration,
// and how many xenstore requests each domain costs.
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { createDomain, disk, entryOf, nic, tempUserdataDir, uuidOf } from './fixture.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;

/**
 * The store with every call counted by method, and the xenstored requests
 * they stand for (a readMany of n paths is n reads); `onCall` may act before
 * a call goes out.
 */
function counted(target: XenStore, onCall?: (method: string, args: unknown[]) => Promise<void> | void) {
  const counts = new Map<string, number>();
  let requests = 0;
  const proxy = new Proxy(target, {
    get(object, property, receiver) {
      const value = Reflect.get(object, property, receiver);
      if (typeof value !== 'function' || typeof property !== 'string' || property === 'close') return value;
      return async (...args: unknown[]) => {
        counts.set(property, (counts.get(property) ?? 0) + 1);
        requests += property === 'readMany' ? (args[0] as string[]).length : 1;
        await onCall?.(property, args);
        return value.apply(object, args);
      };
    },
  });
  return {
    store: proxy,
    counts,
    requests: () => requests,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    reset: () => { counts.clear(); requests = 0; },
  };
}

const withDevices = (domid: number, name: string) => ({
  domid, name, type: 'pv' as const,
  devices: [{ kind: 'disk' as const, entry: disk('xvda', '/dev/vg/a') }, { kind: 'disk' as const, entry: disk('xvdb', '/dev/vg/b') }, { kind: 'nic' as const, entry: nic(0) }],
  template: (config: Parameters<NonNullable<Parameters<typeof createDomain>[2]['template']>>[0]) => {
    config.disks = ['xvda', 'xvdb'].map((vdev) => entryOf('disk', { vdev }));
    config.nics = [entryOf('nic', { devid: 0 })];
  },
});

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  for (const domid of [40, 41, 42, 43]) await createDomain(store, userdata.dir, withDevices(domid, `d${domid}`));
  await createDomain(store, userdata.dir, { domid: 44, name: 'corrupt', type: 'pv' });
  await writeFile(new XenHost({ xenstore: store, userdataDir: userdata.dir }).templates.paths(44, uuidOf(44)).data, 'not json\0');
  await createDomain(store, userdata.dir, { domid: 45, name: 'untemplated', type: 'pv' });
  const { rm } = await import('node:fs/promises');
  await rm(new XenHost({ xenstore: store, userdataDir: userdata.dir }).templates.paths(45, uuidOf(45)).data);
  // Being destroyed: libxl removed the domain's nodes, one stray key is left.
  await store.write('/local/domain/46/domid', '46');
});
afterAll(async () => {
  await store.close();
  userdata.remove();
});

describe('listDomains', () => {
  it('short form: name, memory and online vCPUs from xenstore; failures as values', async () => {
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    const list = await host.listDomains();
    const byDomid = new Map(list.map((entry) => [entry.domid, entry]));
    expect(byDomid.get(40)).toEqual({ domid: 40, name: 'd40', memkb: 262144n, vcpus: 1 });
    expect(byDomid.get(46)).toMatchObject({ domid: 46, error: { code: 'ENODOMAIN' } });
    expect(list.map((entry) => entry.domid)).toEqual([...list.map((entry) => entry.domid)].sort((a, b) => a - b));
  });

  it('long form: a result or a reason for every domain, including one that vanishes mid-list', async () => {
    let removed = false;
    const spy = counted(store, async (method, args) => {
      // While domain 41 is read, domain 42 is destroyed.
      if (!removed && method === 'readMany' && (args[0] as string[])[0] === '/local/domain/41/vm') {
        removed = true;
        await store.rm('/local/domain/42');
        await store.rm('/libxl/42');
      }
    });
    const host = new XenHost({ xenstore: spy.store, userdataDir: userdata.dir });
    const list = await host.listDomains({ long: true, concurrency: 1 });
    const outcome = Object.fromEntries(list.map((entry) => [entry.domid, 'error' in entry ? (entry.error as { code?: string }).code : entry.config.c_info.name]));
    expect(outcome).toMatchObject({ 40: 'd40', 41: 'd41', 42: 'ENODOMAIN', 43: 'd43', 44: 'ECORRUPT', 45: 'ENOTEMPLATE', 46: 'ENODOMAIN' });
    expect(removed).toBe(true);
    const d43 = list.find((entry) => entry.domid === 43)!;
    expect('config' in d43 && d43.config.disks.map((d) => d.vdev)).toEqual(['xvda', 'xvdb']);
  });

  it('takes each uuid from the only template file of the domid, and checks it under the lock', async () => {
    const { copyFileSync, rmSync: remove } = await import('node:fs');
    const { templatePaths } = await import('../../lib/userdata/paths.js');
    await createDomain(store, userdata.dir, withDevices(47, 'd47'));
    await createDomain(store, userdata.dir, withDevices(48, 'd48'));
    const otherUuid = '99999999-0000-4000-8000-000000000047';
    // 47: the only file is a stale one of an earlier domain 47 (another uuid); 48: a stale file beside the real one.
    copyFileSync(templatePaths(userdata.dir, 47, uuidOf(47)).data, templatePaths(userdata.dir, 47, otherUuid).data);
    remove(templatePaths(userdata.dir, 47, uuidOf(47)).data);
    copyFileSync(templatePaths(userdata.dir, 48, uuidOf(48)).data, templatePaths(userdata.dir, 48, otherUuid).data);
    try {
      const vmReads: string[] = [];
      const spy = counted(store, (method, args) => {
        const paths = args[0] as string[];
        if (method === 'readMany' && paths.length === 1 && paths[0]!.endsWith('/vm')) vmReads.push(paths[0]!);
      });
      const host = new XenHost({ xenstore: spy.store, userdataDir: userdata.dir });
      const list = await host.listDomains({ long: true });
      const byDomid = new Map(list.map((entry) => [entry.domid, entry]));
      // The stale hint is caught by the vm node read under the lock: no template of the wrong domain is used.
      expect(byDomid.get(47)).toMatchObject({ error: { code: 'ENOTEMPLATE' } });
      expect(byDomid.get(48)).toMatchObject({ config: { c_info: { name: 'd48', uuid: uuidOf(48) } } });
      // 47 reads vm before the lock after its stale hint, 48 for want of one (two files); 40 has a good hint.
      expect(vmReads).toEqual(expect.arrayContaining(['/local/domain/47/vm', '/local/domain/48/vm']));
      expect(vmReads).not.toContain('/local/domain/40/vm');
    } finally {
      remove(templatePaths(userdata.dir, 47, otherUuid).data);
      remove(templatePaths(userdata.dir, 48, otherUuid).data);
      await store.rm('/local/domain/47');
      await store.rm('/local/domain/48');
    }
  });

  it('costs a handful of calls and few xenstored requests per domain', async () => {
    const spy = counted(store);
    const host = new XenHost({ xenstore: spy.store, userdataDir: userdata.dir });
    await host.retrieveDomainConfiguration(40);
    // readMany of vm (the uuid names the lock and the template); list of
    // /libxl/40/device, vbd and vif; under the lock, one readMany of vm, name,
    // the 2 memory nodes and the pci probe and the 2 vCPUs' availability. Not
    // read: dm-version (not HVM), any key under the device nodes (the template
    // names their disks and nics; no disk is removable), the lock's own domain check.
    expect(Object.fromEntries(spy.counts)).toEqual({ readMany: 2, list: 3 });
    expect(spy.requests()).toBe(1 + 3 + (5 + 2));
    spy.reset();
    await host.retrieveDomainConfiguration(40, { snapshot: true });
    expect(Object.fromEntries(spy.counts)).toEqual({ readMany: 1, transaction: 1 });
    // In a list, the pci probe is one listing of dom0's pci backends for all domains.
    const probes: string[] = [];
    const watched = counted(store, (method, args) => {
      if (method === 'readMany') probes.push(...(args[0] as string[]).filter((path) => path.endsWith('/num_devs')));
    });
    const listing = new XenHost({ xenstore: watched.store, userdataDir: userdata.dir });
    await store.write('/local/domain/0/backend/pci/40/0/num_devs', '0');
    await listing.listDomains({ long: true });
    expect(probes).toEqual(['/local/domain/0/backend/pci/40/0/num_devs']);
    await store.rm('/local/domain/0/backend/pci/40');
    spy.reset();
    await host.listDomains();
    const domains = (await store.list('/local/domain'))!.length;
    expect(spy.counts.get('list')).toBe(1 + domains);
    expect(spy.total()).toBeLessThanOrEqual(1 + 3 * domains);
  });
});

describe('streamDomains', () => {
  const outcomes = (entries: { domid: number }[]) => entries.map((entry) => ('error' in entry ? { domid: entry.domid, code: (entry.error as { code?: string }).code } : entry));

  it('yields listDomains\' entries in domid order, long and short', async () => {
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    for (const options of [{ long: true as const }, { long: true as const, concurrency: 3 }, {}]) {
      const streamed = [];
      for await (const entry of host.streamDomains(options)) streamed.push(entry);
      expect(outcomes(streamed)).toEqual(outcomes(await host.listDomains(options)));
      const domids = (await store.list('/local/domain'))!.map(Number);
      expect(streamed.map((entry) => entry.domid)).toEqual(domids.sort((a, b) => a - b));
    }
  });

  it('a loop left early reads no further domain, and returns once the reads in flight have released their locks', async () => {
    const read = new Set<string>();
    const spy = counted(store, (method, args) => {
      if (method === 'readMany') for (const path of args[0] as string[]) read.add(/^\/local\/domain\/(\d+)\//.exec(path)?.[1] ?? '');
    });
    const host = new XenHost({ xenstore: spy.store, userdataDir: userdata.dir });
    const domids = (await store.list('/local/domain'))!.map(Number).sort((a, b) => a - b);
    for await (const entry of host.streamDomains({ long: true, concurrency: 2 })) {
      expect(entry.domid).toBe(domids[0]);
      break;
    }
    // Two in flight, and a third started when the first was done: nothing of the domains after.
    expect([...read].every((domid) => domids.slice(0, 3).includes(Number(domid)))).toBe(true);
    expect(read.has(String(domids.at(-1)))).toBe(false);
    for (const domid of domids.filter((domid) => domid >= 40 && domid <= 43)) {
      const release = await host.templates.lock(domid, { timeoutMs: 0 });
      await release();
    }
  });
});

describe('diffDomainConfiguration', () => {
  it('no drift right after creation', async () => {
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    const drift = await host.diffDomainConfiguration(43);
    expect(drift.drifted).toBe(false);
    expect(drift.scalars.map((s) => s.field)).toEqual(['c_info.name', 'c_info.uuid', 'b_info.avail_vcpus', 'b_info.target_memkb', 'b_info.max_memkb']);
  });

  it('each refreshed field with stored and live values, and devices on one side only', async () => {
    await createDomain(store, userdata.dir, withDevices(47, 'drifty'));
    await store.write('/local/domain/47/name', 'drifted');
    await store.write('/local/domain/47/memory/target', '131072');
    await store.write('/local/domain/47/cpu/1/availability', 'online');
    await store.rm('/libxl/47/device/vbd/51728');
    await store.write('/libxl/47/device/vif/5/backend', '/local/domain/0/backend/vif/47/5');
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    const drift = await host.diffDomainConfiguration(47);
    expect(drift.drifted).toBe(true);
    expect(drift.scalars.filter((s) => s.differs).map(({ field, stored, live }) => [field, stored, live])).toEqual([
      ['c_info.name', 'drifty', 'drifted'],
      ['b_info.avail_vcpus', [0], [0, 1]],
      ['b_info.target_memkb', 262144n, 131072n],
    ]);
    expect(drift.onlyInTemplate.map((d) => [d.kind, d.key])).toEqual([['disk', 'xvdb']]);
    expect(drift.onlyInXenstore.map((d) => [d.kind, d.key])).toEqual([['nic', '5']]);
  });
});

describe('scale', () => {
  const count = Number(process.env.XEN_DOMCONFIG_LIST_DOMAINS ?? 40);
  it(`lists ${count} domains with devices`, async () => {
    const base = 1000;
    for (let i = 0; i < count; i++) await createDomain(store, userdata.dir, withDevices(base + i, `many${i}`));
    const host = XenHost.open({ xenstorePath: xs.current.socketPath, userdataDir: userdata.dir });
    const started = process.hrtime.bigint();
    const list = await host.listDomains({ long: true });
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    await host.close();
    const many = list.filter((entry) => entry.domid >= base);
    expect(many).toHaveLength(count);
    expect(many.every((entry) => 'config' in entry && entry.config.disks.length === 2)).toBe(true);
    console.info(`listDomains long: ${list.length} domains in ${elapsedMs.toFixed(0)} ms`);
  }, 600_000);
});
