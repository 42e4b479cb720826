// ConfigMirror against the real xenstored: each source (a domain's own nodes,
// /libxl/<domid>/device, dom0's pci and vusb backends, the template folder)
// gives the right event, and the mirror ends equal to a fresh list -l.
import { rename, rm, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDomainConfig, parseDomainConfig } from '../../lib/config/index.js';
import { XenHost } from '../../lib/host.js';
import type { RetrievedDomain } from '../../lib/domain/retrieve.js';
import { applyChanges, type ConfigMirror, type MirrorEvent } from '../../lib/mirror/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { startFakeBackend, type FakeBackend } from '../harness/fakebackend.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { createDomain, disk, entryOf, tempUserdataDir, uuidOf } from '../domain/fixture.js';
import { layOutDomain } from '../../lib/localxen/domains.js';
import { introduceOrRelease, nextEvent, printed, untilEqual } from './helpers.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;
let host: XenHost;
let mirror: ConfigMirror;
let events: AsyncIterableIterator<MirrorEvent>;
let backend: FakeBackend;

const of = (domid: number) => (event: MirrorEvent) => 'domid' in event && event.domid === domid;

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  host = new XenHost({ xenstore: store, userdataDir: userdata.dir, runHotplugScripts: false });
  backend = await startFakeBackend(xs.current.socketPath);
  // dom0 is there before anything else, as on a host (its backend dirs are written below).
  await store.write('/local/domain/0/name', 'Domain-0');
  for (const domid of [1, 2]) await createDomain(store, userdata.dir, { domid, name: `d${domid}`, type: 'pv', maxVcpus: 4, onlineVcpus: 2 });
  mirror = host.mirror();
  await mirror.ready;
  events = mirror.events();
});
afterAll(async () => {
  await mirror?.close();
  await backend?.stop();
  await store.close();
  userdata.remove();
});

describe('ConfigMirror', () => {
  it('is ready with what list -l gives, and byte-identical when printed', async () => {
    expect(mirror.state).toBe('current');
    const fresh = await host.listDomains({ long: true });
    expect(mirror.list().map((entry) => entry.domid)).toEqual([0, 1, 2]);
    expect(mirror.get(0)).toMatchObject({ error: { code: 'ENOTEMPLATE' } });
    expect(printed(mirror.list())).toBe(printed(fresh));
    expect((mirror.get(1) as RetrievedDomain).config.c_info.name).toBe('d1');
    expect(mirror.get(99)).toBeUndefined();
  });

  it('memory/target, name and a vCPU going online: changed, with the JSON paths and old and new values', async () => {
    await store.write('/local/domain/1/memory/target', '131072');
    const memory = await nextEvent(events, of(1));
    expect(memory).toMatchObject({ type: 'changed', changes: [{ path: 'config.b_info.target_memkb', old: 262144n, new: 131072n }] });
    await store.write('/local/domain/1/name', 'renamed');
    expect(await nextEvent(events, of(1))).toMatchObject({ changes: [{ path: 'config.c_info.name', old: 'd1', new: 'renamed' }] });
    await store.write('/local/domain/1/cpu/2/availability', 'online');
    expect(await nextEvent(events, of(1))).toMatchObject({ changes: [{ path: 'config.b_info.avail_vcpus[2]', old: undefined, new: 2 }] });
  });

  it('a disk hotplugged through /libxl/<domid>/device and the template, then unplugged', async () => {
    const before = mirror.get(2) as RetrievedDomain;
    await host.addDevice(2, 'disk', disk('xvdc', '/dev/vg/c'), {});
    const added = await nextEvent(events, (event) => of(2)(event) && event.type === 'changed'
      && (event.entry.config.disks.length === 1));
    if (added.type !== 'changed') throw new Error('unexpected');
    expect(added.entry.config.disks.map((d) => d.vdev)).toEqual(['xvdc']);
    expect(applyChanges(before, added.changes).config).toEqual(added.entry.config);
    await host.removeDevice(2, 'disk', 'xvdc', { force: true });
    const removed = await nextEvent(events, (event) => of(2)(event) && event.type === 'changed' && event.entry.config.disks.length === 0);
    expect(removed).toMatchObject({ type: 'changed' });
  });

  it("dom0's pci backend nodes: a device listed there joins the configuration", async () => {
    const be = '/local/domain/0/backend/pci/2/0';
    const text = await host.templates.readText(2);
    const config = parseDomainConfig(text);
    config.pcidevs = [entryOf('pci', { domain: 0, bus: 3, dev: 0, func: 1 })];
    await host.templates.write(2, formatDomainConfig(config));
    await nextEvent(events, (event) => of(2)(event) && event.type === 'changed'
      && event.entry.devices.onlyInTemplate.some((device) => device.kind === 'pci'));
    await store.write(`${be}/dev-0`, '0000:03:00.1');
    await store.write(`${be}/num_devs`, '1');
    const joined = await nextEvent(events, (event) => of(2)(event) && event.type === 'changed' && event.entry.config.pcidevs.length === 1);
    expect(joined).toMatchObject({ entry: { config: { pcidevs: [{ bus: 3, func: 1 }] } } });
    // dev-0 was read after num_devs appeared, so it is watched now.
    await store.write(`${be}/dev-0`, '0000:04:00.0');
    const moved = await nextEvent(events, (event) => of(2)(event) && event.type === 'changed' && event.entry.config.pcidevs.length === 0);
    expect(moved).toMatchObject({ entry: { devices: { onlyInXenstore: [{ kind: 'pci', key: '0000:04:00.0' }] } } });
  });

  it("dom0's vusb backend: a port filled on a pv controller adds the usbdev", async () => {
    const text = await host.templates.readText(1);
    const config = parseDomainConfig(text);
    config.usbctrls = [entryOf('usbctrl', { devid: 1, type: 'pv' })];
    config.usbdevs = [entryOf('usbdev', { ctrl: 1, port: 2, type: 'hostdev', u: { hostbus: 3, hostaddr: 4 } })];
    await host.templates.write(1, formatDomainConfig(config));
    const pv = '/libxl/1/device/vusb/1';
    await store.write(`${pv}/backend`, '/local/domain/0/backend/vusb/1/1');
    await store.write(`${pv}/type`, 'pv');
    await store.write('/local/domain/0/backend/vusb/1/1/port/2', '');
    await nextEvent(events, (event) => of(1)(event) && event.type === 'changed' && event.entry.config.usbctrls.length === 1);
    await store.write('/local/domain/0/backend/vusb/1/1/port/2', '3-4');
    const plugged = await nextEvent(events, (event) => of(1)(event) && event.type === 'changed' && event.entry.config.usbdevs.length === 1);
    if (plugged.type !== 'changed') throw new Error('unexpected');
    expect(plugged.changes.map((change) => [change.path, change.old === undefined, change.new === undefined]))
      .toEqual([['config.usbdevs[0]', true, false], ['devices.onlyInTemplate[0]', false, true]]);
  });

  it('a template replaced by rename, as an editor or another tool does it', async () => {
    const path = host.templates.paths(2, uuidOf(2)).data;
    const config = parseDomainConfig(await host.templates.readText(2));
    config.on_crash = 'preserve';
    await writeFile(`${path}.new`, `${formatDomainConfig(config)}\0`);
    await rename(`${path}.new`, path);
    expect(await nextEvent(events, of(2))).toMatchObject({
      type: 'changed', changes: [{ path: 'config.on_crash', old: 'destroy', new: 'preserve' }],
    });
  });

  it('a domain laid out and its template stored: added; a corrupt template: error; destroyed: removed', async () => {
    await createDomain(store, userdata.dir, { domid: 7, name: 'seven', type: 'pvh' });
    const added = await nextEvent(events, (event) => of(7)(event) && event.type === 'added');
    expect(added).toMatchObject({ type: 'added', entry: { config: { c_info: { name: 'seven', type: 'pvh' } } } });
    await writeFile(host.templates.paths(7, uuidOf(7)).data, '{ not json\0');
    expect(await nextEvent(events, of(7))).toMatchObject({ type: 'error', error: { code: 'ECORRUPT' } });
    await store.rm('/local/domain/7');
    await store.rm('/libxl/7');
    await rm(host.templates.paths(7, uuidOf(7)).data);
    expect(await nextEvent(events, of(7))).toEqual({ type: 'removed', domid: 7 });
    expect(mirror.get(7)).toBeUndefined();
  });

  it('@introduceDomain and @releaseDomain: the domain list is read again', async () => {
    const layout = (domid: number) => layOutDomain(store, {
      domid, name: `bare${domid}`, uuid: uuidOf(domid), type: 'pv', maxMemKb: 524288, targetMemKb: 262144, maxVcpus: 1, onlineVcpus: 1,
    });
    // Nodes written without a template are no domain yet; the toolstack's introduction makes them one.
    await layout(8);
    await introduceOrRelease(xs.current.socketPath, 'introduce', 8);
    expect(await nextEvent(events, of(8))).toMatchObject({ type: 'error', error: { code: 'ENOTEMPLATE' } });
    // Any release reads the list again: here it finds domain 9, laid out meanwhile.
    await layout(9);
    await introduceOrRelease(xs.current.socketPath, 'release', 8);
    expect(await nextEvent(events, of(9))).toMatchObject({ type: 'error', error: { code: 'ENOTEMPLATE' } });
    for (const domid of [8, 9]) {
      await store.rm(`/local/domain/${domid}`);
      await store.rm(`/libxl/${domid}`);
      expect(await nextEvent(events, of(domid))).toEqual({ type: 'removed', domid });
    }
  });

  it('after all of it, the mirror prints what a fresh list -l prints, byte for byte', async () => {
    const fresh = await untilEqual(mirror, host);
    expect(fresh).toContain('"name": "renamed"');
  });

  it('events({ initial: true }) starts with the domains already there; close() ends the stream', async () => {
    const own = host.mirror();
    const initial = own.events({ initial: true });
    const firsts = [await initial.next(), await initial.next(), await initial.next()];
    // dom0 without a template: a failure, as list -l reports it.
    expect(firsts.map(({ value }) => value && 'domid' in value && [value.type, value.domid])).toEqual([['error', 0], ['added', 1], ['added', 2]]);
    const pending = initial.next();
    await own.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(own.state).toBe('closed');
  });

  it('the domain-userdata lock held past the timeout: ELOCKTIMEOUT as a list reports it, then read again once free', async () => {
    const own = host.mirror({ lockTimeoutMs: 20 });
    try {
      await own.ready;
      const ownEvents = own.events();
      const release = await host.templates.lock(2);
      await store.write('/local/domain/2/memory/target', '200000');
      expect(await nextEvent(ownEvents, of(2))).toMatchObject({ type: 'error', error: { code: 'ELOCKTIMEOUT' } });
      await release();
      expect(await nextEvent(ownEvents, of(2))).toMatchObject({ type: 'added', entry: { config: { b_info: { target_memkb: 200000n } } } });
    } finally {
      await own.close();
    }
  });

  it('return() ends a stream whose next() is waiting', async () => {
    const own = mirror.events();
    const waiting = own.next();
    await own.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });

  it('an AbortSignal and await using end it too', async () => {
    const controller = new AbortController();
    const own = host.mirror({ signal: controller.signal });
    await own.ready;
    controller.abort();
    await expect(own.events().next()).resolves.toEqual({ value: undefined, done: true });
    expect(own.state).toBe('closed');
    let disposed: ConfigMirror;
    {
      await using scoped = host.mirror();
      await scoped.ready;
      disposed = scoped;
    }
    expect(disposed.state).toBe('closed');
  });
});
