// addDevice / removeDevice / storeDomainConfiguration against the real
// xenstored, with the fake backend answering the handshakes.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { NIL_UUID, ZERO_MAC, defaultDeviceNic, type DomainConfig } from '../../lib/config/index.js';
import { generateMac } from '../../lib/devices/index.js';
import { parseFaultSpec } from '../../lib/domain/faults.js';
import { HotplugError } from '../../lib/domain/hotplug.js';
import { XenHost } from '../../lib/host.js';
import { createGuest, guestConfig, xenstoreDevices } from './guest.js';
import { useHotplugRig } from './rig.js';

const rig = useHotplugRig({ name: 'hotplug' });
let nextDomid = 1;

afterEach(() => {
  rig.backend.configure({});
  expect(rig.backend.errors).toEqual([]);
});

async function guest(type: 'pv' | 'pvh' | 'hvm' = 'pv'): Promise<number> {
  const domid = nextDomid++;
  await createGuest(rig.xenstore, rig.host.templates, domid, type);
  return domid;
}

async function permsOf(path: string): Promise<string> {
  return (await rig.xenstore.getPermissions(path)).map((p) => `${p.read && p.write ? 'b' : p.read ? 'r' : p.write ? 'w' : 'n'}${p.domid}`).join(',');
}

describe('addDevice', () => {
  it('adds a disk: libxl\'s nodes and permissions, the template entry, InitWait and hotplug status', async () => {
    const domid = await guest();
    const added = await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdb', backend: 'phy', format: 'raw', readwrite: 1 });
    expect(added).toMatchObject({
      devid: 51728,
      libxlPath: `/libxl/${domid}/device/vbd/51728`,
      frontendPath: `/local/domain/${domid}/device/vbd/51728`,
      backendPath: `/local/domain/0/backend/vbd/${domid}/51728`,
      backendState: 2,
      hotplugStatus: 'connected',
    });
    const be = added.backendPath;
    expect(await rig.xenstore.readMany([`${be}/frontend`, `${be}/params`, `${be}/script`, `${be}/mode`, `${be}/dev`, `${be}/type`, `${be}/discard-enable`])).toEqual([
      added.frontendPath, '/dev/vg/data', '/etc/xen/scripts/block', 'w', 'xvdb', 'phy', '1',
    ]);
    expect(await permsOf(be)).toBe(`n0,r${domid}`);
    expect(await permsOf(added.frontendPath)).toBe(`n${domid},r0`);
    expect(await rig.xenstore.readMany([`${added.frontendPath}/virtual-device`, `${added.frontendPath}/protocol`, `${added.libxlPath}/backend`, `${added.libxlPath}/dev`]))
      .toEqual(['51728', 'x86_64-abi', be, 'xvdb']);
    const template = await rig.host.templates.read(domid);
    expect(template.disks).toHaveLength(1);
    // The template keeps the caller's fields: no backend defaults.
    expect(template.disks[0]).toMatchObject({ vdev: 'xvdb', pdev_path: '/dev/vg/data', backend: 'phy', readwrite: 1, discard_enable: 'default' });
    const { config, devices } = await rig.host.retrieveDomainConfiguration(domid);
    expect(config.disks.map((d) => d.vdev)).toEqual(['xvdb']);
    expect(devices.onlyInXenstore).toEqual([]);
  });

  it('adds a nic with a generated MAC, devid one past the highest listed, and libxl\'s vif keys', async () => {
    const domid = await guest();
    // Children listed out of numeric order: libxl's "last + 1" would pick 3.
    for (const devid of [10, 2]) await rig.xenstore.write(`/libxl/${domid}/device/vif/${devid}/backend`, `/local/domain/0/backend/vif/${domid}/${devid}`);
    const added = await rig.host.addDevice(domid, 'nic', { bridge: 'xenbr1' });
    expect(added.devid).toBe(11);
    const mac = added.entry.mac as string;
    expect(mac).toMatch(/^00:16:3e:[0-7][0-9a-f]:[0-9a-f]{2}:[0-9a-f]{2}$/);
    expect(added.entry).toMatchObject({ devid: 11, nictype: 'vif', bridge: 'xenbr1', script: null, model: null });
    const be = added.backendPath;
    expect(await rig.xenstore.readMany([`${be}/mac`, `${be}/bridge`, `${be}/handle`, `${be}/type`, `${be}/script`, `${be}/mtu`, `${be}/hotplug-status`]))
      .toEqual([mac, 'xenbr1', '11', 'vif', '/etc/xen/scripts/vif-bridge', undefined, 'connected']);
    expect(await rig.xenstore.read(`${added.frontendPath}/mtu`)).toBe('1500');
    expect(await permsOf(`${added.frontendPath}/mtu`)).toBe(`n0,r${domid}`);
    const template = await rig.host.templates.read(domid);
    expect(template.nics.map((n) => [n.devid, n.mac, n.nictype])).toEqual([[11, mac, 'vif']]);
  });

  it('generates MACs by libxl\'s rule', () => {
    expect(generateMac(Uint8Array.of(0xff, 0xab, 0x01))).toBe('00:16:3e:7f:ab:01');
    expect(generateMac(Uint8Array.of(0x80, 0x00, 0x00))).toBe('00:16:3e:00:00:00');
  });

  it('adds a vtpm with a generated uuid', async () => {
    const domid = await guest();
    const added = await rig.host.addDevice(domid, 'vtpm', {});
    expect(added.devid).toBe(0);
    expect(added.entry.uuid).not.toBe(NIL_UUID);
    expect(await rig.xenstore.read(`${added.libxlPath}/uuid`)).toBe(added.entry.uuid);
    expect((await rig.host.templates.read(domid)).vtpms.map((v) => v.uuid)).toEqual([added.entry.uuid]);
  });

  it('refuses an existing device with EEXIST and leaves the template alone', async () => {
    const domid = await guest();
    await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/a', vdev: 'xvda', backend: 'phy', readwrite: 1 });
    const before = await rig.host.templates.readText(domid);
    const error = await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/b', vdev: 'xvda', backend: 'phy' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HotplugError);
    expect(error).toMatchObject({ code: 'EEXIST', details: { devid: 51712, path: `/libxl/${domid}/device/vbd/51712` } });
    expect(await rig.host.templates.readText(domid)).toBe(before);
  });

  it('replaces a stale template entry with the same identity', async () => {
    const domid = await guest();
    await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/old', vdev: 'xvdc', backend: 'phy' });
    await rig.host.removeDevice(domid, 'disk', 'xvdc');
    expect((await rig.host.templates.read(domid)).disks.map((d) => d.pdev_path)).toEqual(['/dev/vg/old']);
    await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/new', vdev: 'xvdc', backend: 'phy' });
    expect((await rig.host.templates.read(domid)).disks.map((d) => d.pdev_path)).toEqual(['/dev/vg/new']);
  });

  it('reports a backend that never reaches InitWait after commit, with both views consistent', async () => {
    const domid = await guest();
    rig.backend.configure({ stallInit: true });
    const error = await rig.host.addDevice(domid, 'nic', {}, { timeoutMs: 200 }).catch((e: unknown) => e) as HotplugError;
    expect(error).toBeInstanceOf(HotplugError);
    expect(error.code).toBe('ETIMEDOUT');
    expect(error.details.committed).toBe(true);
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual(['vif/0']);
    expect((await rig.host.templates.read(domid)).nics.map((n) => n.devid)).toEqual([0]);
  });

  it('reports a failing hotplug script', async () => {
    const domid = await guest();
    rig.backend.configure({ failHotplug: 'no such bridge' });
    const error = await rig.host.addDevice(domid, 'nic', { bridge: 'nope' }).catch((e: unknown) => e) as HotplugError;
    expect(error).toMatchObject({ code: 'EHOTPLUG', details: { committed: true } });
    expect(error.message).toContain('no such bridge');
  });

  it('aborts the wait on the signal and says the device was added', async () => {
    const domid = await guest();
    rig.backend.configure({ stallInit: true });
    const controller = new AbortController();
    const adding = rig.host.addDevice(domid, 'vtpm', {}, { signal: controller.signal }).catch((e: unknown) => e);
    // Aborted once committed, while it waits for the stalled backend (not after a guessed delay).
    while (await rig.xenstore.read(`/libxl/${domid}/device/vtpm/0/state`) === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    controller.abort();
    const error = await adding;
    expect(error).toMatchObject({ code: 'ABORT_ERR', details: { committed: true } });
    const aborted = new AbortController();
    aborted.abort();
    await expect(rig.host.addDevice(domid, 'vtpm', {}, { signal: aborted.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual(['vtpm/0']);
  });

  it('refuses bad input with EINVAL, and a domid outside a guest range with EBADDOMID', async () => {
    const domid = await guest();
    const cases: Array<() => Promise<unknown>> = [
      () => rig.host.addDevice(domid, 'pci', {}),
      () => rig.host.addDevice(domid, 'floppy' as never, {}),
      () => rig.host.addDevice(domid, 'disk', null as never),
      () => rig.host.addDevice(domid, 'disk', { vdev: 'xvda', readwrite: 'yes' as never }),
      () => rig.host.addDevice(domid, 'disk', { vdev: 'not-a-disk', backend: 'phy', pdev_path: '/x' }),
      () => rig.host.addDevice(domid, 'nic', { nictype: 'vif_ioemu' }),
      () => rig.host.addDevice(domid, 'nic', { mac: 'zz' as never }),
      () => rig.host.addDevice(domid, 'disk', { vdev: 'xvdq', pdev_path: '/nonexistent/disk' }),
      () => rig.host.addDevice(domid, 'nic', {}, { timeoutMs: -1 }),
    ];
    for (const attempt of cases) await expect(attempt()).rejects.toMatchObject({ name: 'HotplugError', code: 'EINVAL' });
    for (const domid of [0, 1.5]) await expect(rig.host.addDevice(domid, 'disk', { vdev: 'xvda' })).rejects.toMatchObject({ name: 'HotplugError', code: 'EBADDOMID' });
    await expect(rig.host.addDevice(999, 'nic', {})).rejects.toMatchObject({ code: 'ENODOMAIN' });
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
  });

  it('fails with the template store\'s error when the domain has no template', async () => {
    const domid = await guest();
    rmSync(rig.host.templates.paths(domid, (await rig.xenstore.read(`/local/domain/${domid}/vm`))!.slice(4)).data);
    await expect(rig.host.addDevice(domid, 'nic', {})).rejects.toMatchObject({ code: 'ENOTEMPLATE' });
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
  });
});

describe('removeDevice', () => {
  it('closes the backend, removes the nodes and keeps the template entry', async () => {
    const domid = await guest();
    const added = await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/a', vdev: 'xvdb', backend: 'phy' });
    const removed = await rig.host.removeDevice(domid, 'disk', 'xvdb');
    expect(removed).toMatchObject({ devid: 51728, identity: 'xvdb', forced: false, prunedEntries: 0 });
    expect(rig.backend.answered).toContain(`${added.backendPath} 5→6`);
    expect(await rig.xenstore.readMany([added.libxlPath, added.frontendPath, added.backendPath])).toEqual([undefined, undefined, undefined]);
    // Emptied parents go too (libxl__xs_path_cleanup), up to a dir with other children.
    expect(await rig.xenstore.readMany([`/local/domain/0/backend/vbd/${domid}`, `/local/domain/${domid}/device`, `/libxl/${domid}/device`]))
      .toEqual([undefined, undefined, undefined]);
    expect(await rig.xenstore.readMany([`/local/domain/${domid}`, `/libxl/${domid}/type`])).toEqual(['', 'pv']);
    expect((await rig.host.templates.read(domid)).disks).toHaveLength(1);
    const { config, devices } = await rig.host.retrieveDomainConfiguration(domid);
    expect(config.disks).toEqual([]);
    expect(devices.onlyInTemplate).toHaveLength(1);
  });

  it('finds a nic by devid, a disk by devid, and prunes the template on request', async () => {
    const domid = await guest();
    await rig.host.addDevice(domid, 'nic', {});
    await rig.host.addDevice(domid, 'nic', {});
    await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/a', vdev: 'hda', backend: 'phy' });
    expect(await rig.host.removeDevice(domid, 'nic', 1, { pruneTemplate: true })).toMatchObject({ devid: 1, prunedEntries: 1 });
    expect(await rig.host.removeDevice(domid, 'disk', 768, { pruneTemplate: true })).toMatchObject({ identity: 'hda', prunedEntries: 1 });
    const template = await rig.host.templates.read(domid);
    expect(template.nics.map((n) => n.devid)).toEqual([0]);
    expect(template.disks).toEqual([]);
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual(['vif/0']);
  });

  it('forces the removal when the backend does not close (libxl\'s remove), or fails (safe remove)', async () => {
    const domid = await guest();
    const added = await rig.host.addDevice(domid, 'nic', {});
    rig.backend.configure({ stallClose: true });
    const error = await rig.host.removeDevice(domid, 'nic', 0, { force: 'never', timeoutMs: 100 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'HotplugError', code: 'ETIMEDOUT' });
    expect(await rig.xenstore.readMany([`${added.backendPath}/state`, `${added.backendPath}/online`])).toEqual(['5', '0']);
    expect(await rig.host.removeDevice(domid, 'nic', 0, { timeoutMs: 100 })).toMatchObject({ forced: true });
    expect(await rig.xenstore.readMany([added.libxlPath, added.frontendPath, added.backendPath])).toEqual([undefined, undefined, undefined]);
    await rig.host.addDevice(domid, 'nic', {});
    expect(await rig.host.removeDevice(domid, 'nic', 0, { force: true, timeoutMs: 100 })).toMatchObject({ forced: true });
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
  });

  it('writes Closing again when the backend writes its late InitWait over it, instead of waiting out the timeout (libxl forces after 10 s)', async () => {
    const domid = await guest();
    const added = await rig.host.addDevice(domid, 'nic', {});
    rig.backend.configure({ lateInitWait: true });
    try {
      const removed = await rig.host.removeDevice(domid, 'nic', 0, { force: 'never', timeoutMs: 5000 });
      expect(removed).toMatchObject({ forced: false });
      expect(rig.backend.answered).toEqual(expect.arrayContaining([`${added.backendPath} 5→2 (late InitWait)`, `${added.backendPath} 5→6`]));
      expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
    } finally {
      rig.backend.configure({});
    }
  });

  it('cleans up a device whose backend dir is already gone', async () => {
    const domid = await guest();
    const added = await rig.host.addDevice(domid, 'vtpm', {});
    await rig.xenstore.rm(added.backendPath);
    expect(await rig.host.removeDevice(domid, 'vtpm', 0)).toMatchObject({ forced: false });
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
  });

  it('refuses unknown devices and bad identities, and never trusts a forged /libxl backend path', async () => {
    const domid = await guest();
    await expect(rig.host.removeDevice(domid, 'disk', 'xvdz')).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(rig.host.removeDevice(domid, 'nic', 7)).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(rig.host.removeDevice(domid, 'nic', -1)).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(rig.host.removeDevice(domid, 'nic', 0, { force: 'yes' as never })).rejects.toMatchObject({ code: 'EINVAL' });
    await expect(rig.host.removeDevice(domid, 'bogus' as never, 0)).rejects.toMatchObject({ code: 'EINVAL' });
    await rig.xenstore.write(`/libxl/${domid}/device/vif/3/backend`, `/local/domain/0/backend/vif/${domid + 1}/3`);
    await expect(rig.host.removeDevice(domid, 'nic', 3)).rejects.toMatchObject({ code: 'ENODEV' });
  });
});

describe('a kind libxl keeps no template entry for (vkb)', () => {
  it('adds without waiting for the backend, keeps the entry with its devid, and prunes it on removal', async () => {
    const domid = await guest();
    rig.backend.configure({ stallInit: true });
    const added = await rig.host.addDevice(domid, 'vkb', { backend_type: 'linux', unique_id: 'K0' }, { timeoutMs: 100 });
    expect(added).toMatchObject({ devid: 0, backendState: undefined, backendPath: `/local/domain/0/backend/vinput/${domid}/0` });
    expect(await rig.xenstore.read(`${added.backendPath}/state`)).toBe('1');
    expect((await rig.host.templates.read(domid)).vkbs.map((v) => [v.devid, v.unique_id])).toEqual([[0, 'K0']]);
    rig.backend.configure({});
    const removed = await rig.host.removeDevice(domid, 'vkb', 0, { force: true });
    expect(removed.prunedEntries).toBe(1);
    expect((await rig.host.templates.read(domid)).vkbs).toEqual([]);
  });

  it('retrieve keeps entries made at create time (devid -1) and drops identified ones xenstore does not list', async () => {
    const domid = await guest();
    const live = await rig.host.addDevice(domid, 'vkb', { backend_type: 'qemu', unique_id: 'live' });
    await rig.host.templates.withLock(domid, async () => {
      const template = await rig.host.templates.read(domid);
      const created = { ...template.vkbs[0]!, devid: -1, unique_id: 'created' };
      const gone = { ...template.vkbs[0]!, devid: 7, unique_id: 'gone' };
      template.vkbs = [created, ...template.vkbs, gone];
      await rig.host.templates.write(domid, template);
    });
    // A vkb in xenstore without an entry (as xl's vkb-attach leaves it) is not reported.
    await rig.xenstore.write(`/libxl/${domid}/device/vkbd/3/backend`, `/local/domain/0/backend/vkbd/${domid}/3`);
    const { config, devices } = await rig.host.retrieveDomainConfiguration(domid);
    expect(config.vkbs.map((v) => [v.devid, v.unique_id])).toEqual([[-1, 'created'], [live.devid, 'live']]);
    expect(devices.onlyInTemplate.map((d) => [d.kind, d.key])).toEqual([['vkb', '7']]);
    expect(devices.onlyInXenstore).toEqual([]);
  });
});

describe('usb controllers', () => {
  const sysfs = (withUsbback: boolean) => {
    const root = mkdtempSync(join(rig.workDir, 'sys-'));
    if (withUsbback) mkdirSync(join(root, 'bus/usb/drivers/usbback'), { recursive: true });
    return root;
  };

  it('picks pv for type auto when usbback is loaded under the sysfs root, with libxl\'s defaults', async () => {
    const domid = await guest();
    const xenstore = rig.xenstore;
    const host = new XenHost({ xenstore, userdataDir: rig.userdataDir, runHotplugScripts: false, sysfsRoot: sysfs(true) });
    const added = await host.addDevice(domid, 'usbctrl', {});
    expect(added).toMatchObject({ devid: 0, backendPath: `/local/domain/0/backend/vusb/${domid}/0`, backendState: 2 });
    expect(added.entry).toMatchObject({ type: 'pv', devid: 0, version: 2, ports: 8 });
    expect(await xenstore.readMany(['type', 'usb-ver', 'num-ports', 'port', 'port/8'].map((key) => `${added.libxlPath}/${key}`))).toEqual(['pv', '2', '8', '', '']);
    expect((await rig.host.retrieveDomainConfiguration(domid)).config.usbctrls.map((c) => c.devid)).toEqual([0]);
  });

  it('refuses qusb without a device model offering it, devicemodel without a QEMU to ask, bad versions and port counts, writing nothing', async () => {
    const domid = await guest();
    const host = new XenHost({ xenstore: rig.xenstore, userdataDir: rig.userdataDir, runHotplugScripts: false, sysfsRoot: sysfs(false) });
    const before = await rig.host.templates.readText(domid);
    for (const [device, error, message] of [
      [{}, 'EINVAL', /backend type qusb not supported by the device model of domain/],
      [{ type: 'devicemodel' }, 'EQMP', /QMP socket \/var\/run\/xen\/qmp-libxl-\d+/],
      [{ type: 'devicemodel', version: 4 }, 'EINVAL', /Illegal USB version/],
      [{ type: 'pv', version: 3 }, 'EINVAL', /must be 1 or 2/],
      [{ type: 'pv', ports: 32 }, 'EINVAL', /limited to 31/],
    ] as const) {
      await expect(host.addDevice(domid, 'usbctrl', device)).rejects.toMatchObject({ code: error, message: expect.stringMatching(message) });
    }
    expect(await rig.host.templates.readText(domid)).toBe(before);
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
  });

  it('will not remove a controller that still has usb devices on its ports', async () => {
    const domid = await guest();
    const added = await rig.host.addDevice(domid, 'usbctrl', { type: 'pv', ports: 2 });
    await rig.xenstore.write(`${added.backendPath}/port/2`, '1-1');
    await expect(rig.host.removeDevice(domid, 'usbctrl', 0)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/attached at ports 2/) });
    await rig.xenstore.write(`${added.backendPath}/port/2`, '');
    await rig.host.removeDevice(domid, 'usbctrl', 0);
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
  });
});

describe('storeDomainConfiguration', () => {
  it('patches in the uuid, nic devids, MACs and types, vtpm devids and uuids as libxl does at creation', async () => {
    const domid = nextDomid++;
    const uuid = await createGuest(rig.xenstore, rig.host.templates, domid);
    // What the toolstack built: vif 0 with a generated MAC, a vtpm with its uuid.
    await rig.xenstore.write(`/libxl/${domid}/device/vif/0/mac`, '00:16:3e:12:34:56');
    await rig.xenstore.write(`/libxl/${domid}/device/vtpm/0/uuid`, '0d1c1a6e-5a43-4f6b-9f5e-2a4f8e0b7c11');
    const config: DomainConfig = guestConfig(`guest${domid}`, NIL_UUID);
    const nic = defaultDeviceNic();
    config.nics.push(nic, { ...defaultDeviceNic(), devid: 4, mac: '00:16:3e:00:00:04' });
    config.vtpms.push({ backend_domid: 0, backend_domname: null, devid: -1, uuid: NIL_UUID });
    config.disks.push({ ...(await import('../../lib/config/index.js')).defaultDeviceDisk(), vdev: 'xvda', pdev_path: '/dev/vg/guest' });
    const stored = await rig.host.storeDomainConfiguration(domid, config);
    expect(stored.c_info.uuid).toBe(uuid);
    expect(stored.nics.map((n) => [n.devid, n.mac, n.nictype])).toEqual([[5, stored.nics[0]!.mac, 'vif'], [4, '00:16:3e:00:00:04', 'vif']]);
    expect(stored.nics[0]!.mac).toMatch(/^00:16:3e:[0-7]/);
    expect(stored.vtpms).toEqual([{ backend_domid: 0, backend_domname: null, devid: 0, uuid: '0d1c1a6e-5a43-4f6b-9f5e-2a4f8e0b7c11' }]);
    expect(stored.disks[0]!.colo_restore_enable).toBe(false);
    expect(stored.b_info.video_memkb).toBe(0n);
    expect(stored.b_info.arch_x86.msr_relaxed).toBe(false);
    expect(await rig.host.templates.read(domid)).toEqual(stored);
    expect(config.c_info.uuid).toBe(NIL_UUID); // the caller's object is not modified
    expect(nic.mac).toBe(ZERO_MAC);
  });

  it('refuses bad arguments', async () => {
    await expect(rig.host.storeDomainConfiguration(-1, guestConfig('x', NIL_UUID))).rejects.toMatchObject({ code: 'EBADDOMID' });
    await expect(rig.host.storeDomainConfiguration(3, {} as never)).rejects.toMatchObject({ code: 'EINVAL' });
  });
});

describe('fault points', () => {
  it('parses XEN_DOMCONFIG_FAULT and refuses unknown points', () => {
    expect(parseFaultSpec(undefined)).toBeUndefined();
    expect(parseFaultSpec('add.before-commit')).toEqual({ point: 'add.before-commit', remaining: 1 });
    expect(parseFaultSpec('remove.after-destroy:3')).toEqual({ point: 'remove.after-destroy', remaining: 3 });
    for (const bad of ['nope', 'add.before-commit:0', 'add.before-commit:x', ':2']) {
      expect(() => parseFaultSpec(bad)).toThrow(expect.objectContaining({ code: 'EINVAL' }));
    }
  });
});
