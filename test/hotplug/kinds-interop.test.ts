// The kinds beyond disk, nic and vtpm next to the real xl/libxl 4.17 in
// ../shared/fakexen: a device we add is listed and detached by xl, one xl
// attaches is removed by us, our xenstore nodes for the same spec equal
// libxl's (keys, values, permissions), and `list -l` equals xl's after each
// step apart from the README's deliberate differences.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDomainList, parseDomainList, type DomainConfig } from '../../lib/config/index.js';
import { parseUsbctrlSpec } from '../../lib/devices/kinds/usbctrl.js';
import { parseVdisplSpec } from '../../lib/devices/kinds/vdispl.js';
import { parseVkbSpec } from '../../lib/devices/kinds/vkb.js';
import { parseVsndSpec } from '../../lib/devices/kinds/vsnd.js';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { fakexenAvailable, useFakexen } from '../harness/fakexen.js';
import { deviceSnapshot, type DevicePaths } from './snapshot.js';

const noFakexen = fakexenAvailable();
describe.skipIf(noFakexen !== undefined)(`device kinds next to real xl${noFakexen ? ` (skipped: ${noFakexen})` : ''}`, () => {
  const fakexen = useFakexen({ name: 'kinds-interop' });
  let xenstore: XenStore;
  let host: XenHost;
  let domid: number;

  const xl = async (...args: string[]) => {
    const result = await fakexen.current.xl(...args);
    expect(result.code, `xl ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const xlListLong = async (): Promise<DomainConfig> => parseDomainList(await xl('list', '-l', String(domid)))[0]!.config;
  const template = () => host.templates.read(domid);
  const paths = (frontendKind: string, backendKind: string, devid: number): DevicePaths => ({
    libxlPath: `/libxl/${domid}/device/${frontendKind}/${devid}`,
    frontendPath: `/local/domain/${domid}/device/${frontendKind}/${devid}`,
    backendPath: `/local/domain/0/backend/${backendKind}/${domid}/${devid}`,
  });

  /** Our retrieve printed as `xl list -l` prints it equals xl's own output (sched_params are the fake hypervisor's). */
  async function expectSameListLong(): Promise<void> {
    const theirs = await xl('list', '-l', String(domid));
    const [expected] = parseDomainList(theirs);
    const ours = await host.retrieveDomainConfiguration(domid);
    ours.config.b_info.sched_params = expected!.config.b_info.sched_params;
    expect(formatDomainList([{ domid, config: ours.config }])).toBe(theirs);
    expect(ours.devices.problems).toEqual([]);
  }

  beforeAll(async () => {
    const env = fakexen.current.env;
    xenstore = XenStore.open({ path: env.XENSTORED_PATH });
    host = new XenHost({ xenstore, userdataDir: env.FAKEXEN_USERDATA_DIR, runHotplugScripts: false }); // fakexen's backend moves the states
    const cfg = join(env.FAKEXEN_RUN, 'kinds.cfg');
    writeFileSync(cfg, ['name = "kinds"', 'type = "pv"', 'memory = 128', 'vcpus = 1', 'kernel = "/usr/lib/fakexen/mini-pv.elf"'].join('\n'));
    await fakexen.current.xl('create', cfg).then((r) => { if (r.code !== 0) throw new Error(r.stderr); });
    domid = Number((await fakexen.current.xl('domid', 'kinds')).stdout.trim());
  });
  afterAll(async () => {
    await fakexen.current.xl('destroy', String(domid));
    await host?.close();
    await xenstore?.close();
  });

  it('listDevices names the devices, states and backend paths xl\'s block-list and network-list print', async () => {
    await xl('block-attach', String(domid), 'phy:/dev/vg/disk2,xvdf,w');
    await xl('network-attach', String(domid), 'bridge=xenbr0');
    const rows = (text: string) => text.trim().split('\n').slice(1).map((line) => line.trim().split(/\s+/));
    const disks = (await host.listDevices(domid, 'disk')).devices;
    // Vdev BE handle state evt-ch ring-ref BE-path
    expect(disks.map((d) => [String(d.devid), String(d.backendDomid), String(domid), String(d.guestReported.state), '-1', '-1', d.backendPath]))
      .toEqual(rows(await xl('block-list', String(domid))));
    const nics = (await host.listDevices(domid, 'nic')).devices;
    // Idx BE Mac handle state evt-ch tx-/rx-ring-ref BE-path
    expect(nics.map((n) => [String(n.devid), String(n.backendPath.split('/')[3]), String(n.devid), String(n.guestReported.state), '-1', '-1/-1', n.backendPath]))
      .toEqual(rows(await xl('network-list', String(domid))).map(([idx, be, , ...rest]) => [idx, be, ...rest]));
    await xl('block-detach', String(domid), 'xvdf');
    await xl('network-detach', String(domid), String(nics[0]!.devid));
  });

  describe('vtpm', () => {
    const UUID = '0b7e5c2a-1d41-4f0e-9a63-2c8d1e5f7a90';

    it('writes the same xenstore nodes and template entry as libxl for the same spec; each side removes the other\'s', async () => {
      await xl('vtpm-attach', String(domid), `uuid=${UUID}`);
      const where = paths('vtpm', 'vtpm', 0);
      const theirs = await deviceSnapshot(xenstore, where);
      const theirEntry = (await template()).vtpms;
      await expectSameListLong();
      await host.removeDevice(domid, 'vtpm', 0);
      expect((await xl('vtpm-list', String(domid))).trim().split('\n')).toHaveLength(1);
      const added = await host.addDevice(domid, 'vtpm', { uuid: UUID });
      expect(added).toMatchObject({ ...where, devid: 0, backendState: 2 });
      expect(await deviceSnapshot(xenstore, where)).toEqual(theirs);
      expect((await template()).vtpms).toEqual(theirEntry);
      await expectSameListLong();
      expect(await xl('vtpm-list', String(domid))).toContain(`${UUID}      0     1     -1       -1 ${where.backendPath}`);
      await xl('vtpm-detach', String(domid), UUID);
      expect(await xenstore.read(where.libxlPath)).toBeUndefined();
      await expectSameListLong();
    });
  });

  describe('vkb', () => {
    const SPEC = ['backend-type=linux', 'unique-id=K0', 'width=800', 'height=600', 'feature-multi-touch=1', 'multi-touch-width=10', 'multi-touch-height=20', 'multi-touch-num-contacts=3'];

    it('writes the same xenstore nodes as libxl for the same spec', async () => {
      await xl('vkb-attach', String(domid), ...SPEC);
      const where = paths('vkbd', 'vinput', 0);
      const theirs = await deviceSnapshot(xenstore, where);
      expect(theirs.backendPath).toContain(`/multi-touch-num-contacts = "3" (n0,r${domid})`);
      // xl keeps no template entry for a vkb.
      expect((await template()).vkbs).toEqual([]);
      await xl('vkb-detach', String(domid), '0');
      const added = await host.addDevice(domid, 'vkb', parseVkbSpec(SPEC));
      expect(added).toMatchObject({ ...where, devid: 0, backendState: undefined });
      expect(await deviceSnapshot(xenstore, where)).toEqual(theirs);
      await host.removeDevice(domid, 'vkb', 0);
    });

    it('adds a vkb that real xl lists and detaches; list -l agrees with xl at each step', async () => {
      const added = await host.addDevice(domid, 'vkb', { backend_type: 'linux', unique_id: 'K1' });
      // The template keeps the entry with its devid (libxl keeps none): xl's list -l shows it too.
      expect((await template()).vkbs.map((v) => [v.devid, v.unique_id])).toEqual([[added.devid, 'K1']]);
      await expectSameListLong();
      const listed = await xl('vkb-list', String(domid));
      expect(listed).toMatch(new RegExp(`^${added.devid} +0 .* K1 +linux +/local/domain/0/backend/vinput/${domid}/${added.devid}`, 'm'));
      await xl('vkb-detach', String(domid), String(added.devid));
      expect(await xenstore.read(added.libxlPath)).toBeUndefined();
      // xl leaves our entry in the template; retrieve drops it, as no vkb of that devid is live.
      expect((await xlListLong()).vkbs.map((v) => v.devid)).toEqual([added.devid]);
      const { config, devices } = await host.retrieveDomainConfiguration(domid);
      expect(config.vkbs).toEqual([]);
      expect(devices.onlyInTemplate.filter((d) => d.kind === 'vkb').map((d) => d.key)).toEqual([String(added.devid)]);
    });

    it('removes a vkb that real xl attached, and prunes what a remove of ours leaves', async () => {
      await host.templates.withLock(domid, async () => {
        const stored = await host.templates.read(domid);
        stored.vkbs = [];
        await host.templates.write(domid, stored);
      });
      await xl('vkb-attach', String(domid), 'backend-type=qemu', 'unique-id=K2');
      const [devid] = (await xenstore.list(`/libxl/${domid}/device/vkbd`))!.map(Number);
      await expectSameListLong(); // a vkb without an entry: neither shows it
      const removed = await host.removeDevice(domid, 'vkb', devid!);
      expect(removed).toMatchObject({ kind: 'vkb', devid, prunedEntries: 0 });
      expect((await xl('vkb-list', String(domid))).trim().split('\n')).toHaveLength(1); // the header alone
      const added = await host.addDevice(domid, 'vkb', { backend_type: 'qemu', unique_id: 'K3' });
      const pruned = await host.removeDevice(domid, 'vkb', added.devid);
      expect(pruned.prunedEntries).toBe(1);
      expect((await template()).vkbs).toEqual([]);
      await expectSameListLong();
    });
  });

  describe('vdispl', () => {
    const SPEC = ['connectors=id0:1920x1080;id1:800x600', 'be-alloc=1'];

    it('writes the same xenstore nodes and template entry as libxl for the same spec', async () => {
      await xl('vdispl-attach', String(domid), ...SPEC);
      const where = paths('vdispl', 'vdispl', 0);
      const theirs = await deviceSnapshot(xenstore, where);
      expect(theirs.frontendPath).toContain(`/1/resolution = "800x600" (n0,r${domid})`);
      const theirEntry = (await template()).vdispls;
      expect(theirEntry.map((v) => v.devid)).toEqual([0]);
      await xl('vdispl-detach', String(domid), '0');
      const added = await host.addDevice(domid, 'vdispl', parseVdisplSpec(SPEC));
      expect(added).toMatchObject({ ...where, devid: 0, backendState: 2 });
      expect(await deviceSnapshot(xenstore, where)).toEqual(theirs);
      expect((await template()).vdispls).toEqual(theirEntry);
      await expectSameListLong();
      await host.removeDevice(domid, 'vdispl', 0);
    });

    it('adds a vdispl that real xl lists and detaches, and removes one xl attached', async () => {
      const added = await host.addDevice(domid, 'vdispl', { connectors: [{ unique_id: 'c0', width: 640, height: 480 }] });
      await expectSameListLong();
      expect(await xl('vdispl-list', String(domid))).toContain(`DevId: ${added.devid}, BE: 0, handle: ${domid}, state: 1, be-alloc: 0, BE-path: ${added.backendPath}`);
      await xl('vdispl-detach', String(domid), String(added.devid));
      expect(await xenstore.read(added.libxlPath)).toBeUndefined();
      await expectSameListLong(); // the stale entry: dropped by both
      await xl('vdispl-attach', String(domid), 'connectors=x:1x1');
      const [devid] = (await xenstore.list(`/libxl/${domid}/device/vdispl`))!.map(Number);
      await expectSameListLong();
      await host.removeDevice(domid, 'vdispl', devid!);
      expect(await xl('vdispl-list', String(domid))).toBe('');
      await expectSameListLong();
    });
  });

  describe('vsnd', () => {
    const SPEC = [
      'card,short-name=Card,long-name=Long Card,sample-rates=8000;44100,sample-formats=s16_le;u8,channels-max=2',
      'pcm,name=p0,buffer-size=4096', 'stream,unique-id=s0,type=p', 'stream,unique-id=s1,type=c,channels-min=1',
      'pcm,name=p1', 'stream,unique-id=s2,type=P',
    ];

    it('writes the same xenstore nodes and template entry as libxl for the same spec', async () => {
      await xl('vsnd-attach', String(domid), ...SPEC);
      const where = paths('vsnd', 'vsnd', 0);
      const theirs = await deviceSnapshot(xenstore, where);
      expect(theirs.frontendPath).toContain(`/0/1/channels-min = "1" (n${domid},r0)`);
      const theirEntry = (await template()).vsnds;
      expect(theirEntry.map((v) => v.pcms.length)).toEqual([2]);
      await xl('vsnd-detach', String(domid), '0');
      const added = await host.addDevice(domid, 'vsnd', parseVsndSpec(SPEC));
      expect(added).toMatchObject({ ...where, devid: 0, backendState: 2 });
      expect(await deviceSnapshot(xenstore, where)).toEqual(theirs);
      expect((await template()).vsnds).toEqual(theirEntry);
      await expectSameListLong();
      await host.removeDevice(domid, 'vsnd', 0);
    });

    it('adds a vsnd that real xl lists and detaches, and removes one xl attached', async () => {
      const added = await host.addDevice(domid, 'vsnd', { short_name: 'S', pcms: [{ name: 'x', streams: [{ unique_id: 'u', type: 'c' }] }] });
      await expectSameListLong();
      expect(await xl('vsnd-list', String(domid))).toContain(`devid: ${added.devid}, be-domid: 0, handle: ${domid}, state: 1, be-path: ${added.backendPath}`);
      await xl('vsnd-detach', String(domid), String(added.devid));
      expect(await xenstore.read(added.libxlPath)).toBeUndefined();
      await expectSameListLong();
      await xl('vsnd-attach', String(domid), 'card,short-name=Q', 'pcm,name=q0');
      const [devid] = (await xenstore.list(`/libxl/${domid}/device/vsnd`))!.map(Number);
      await expectSameListLong();
      await host.removeDevice(domid, 'vsnd', devid!);
      expect(await xenstore.list(`/libxl/${domid}/device/vsnd`)).toBeUndefined();
      await expectSameListLong();
    });
  });

  describe('usbctrl (PV)', () => {
    const SPEC = ['type=pv', 'version=1', 'ports=4'];

    it('writes the same xenstore nodes and template entry as libxl for the same spec', async () => {
      await xl('usbctrl-attach', String(domid), ...SPEC);
      const where = paths('vusb', 'vusb', 0);
      const theirs = await deviceSnapshot(xenstore, where);
      expect(theirs.backendPath).toContain(`/port/4 = "" (n0,r${domid})`);
      const theirEntry = (await template()).usbctrls;
      expect(theirEntry).toMatchObject([{ type: 'pv', devid: 0, version: 1, ports: 4 }]);
      await xl('usbctrl-detach', String(domid), '0');
      const added = await host.addDevice(domid, 'usbctrl', parseUsbctrlSpec(SPEC));
      expect(added).toMatchObject({ ...where, devid: 0, backendState: 2 });
      expect(await deviceSnapshot(xenstore, where)).toEqual(theirs);
      expect((await template()).usbctrls).toEqual(theirEntry);
      await expectSameListLong();
      await host.removeDevice(domid, 'usbctrl', 0);
    });

    it('adds a controller that real xl lists and detaches, and removes one xl attached', async () => {
      const added = await host.addDevice(domid, 'usbctrl', { type: 'pv', ports: 2 });
      await expectSameListLong();
      expect(await xl('usb-list', String(domid))).toMatch(new RegExp(`^${added.devid} +pv +0 +1 +2 +2 *\\n  Port 1:\\n  Port 2:`, 'm'));
      await xl('usbctrl-detach', String(domid), String(added.devid));
      expect(await xenstore.read(added.libxlPath)).toBeUndefined();
      await expectSameListLong();
      await xl('usbctrl-attach', String(domid), 'type=pv');
      const [devid] = (await xenstore.list(`/libxl/${domid}/device/vusb`))!.map(Number);
      await expectSameListLong();
      await host.removeDevice(domid, 'usbctrl', devid!);
      expect(await xl('usb-list', String(domid))).toBe('');
      await expectSameListLong();
    });
  });

  describe('made at create time: vfb, p9, pvcallsif', () => {
    let made: number;
    beforeAll(async () => {
      const env = fakexen.current.env;
      const cfg = join(env.FAKEXEN_RUN, 'made.cfg');
      writeFileSync(cfg, [
        'name = "made"', 'type = "pv"', 'memory = 128', 'vcpus = 1', 'kernel = "/usr/lib/fakexen/mini-pv.elf"',
        `p9 = [ "tag=share,security_model=none,path=${env.FAKEXEN_RUN}" ]`, 'pvcalls = [ "backend=0" ]',
        'vfb = [ "vnc=1,vnclisten=0.0.0.0,vncdisplay=3,vncunused=0" ]',
      ].join('\n'));
      await fakexen.current.xl('create', cfg).then((r) => { if (r.code !== 0) throw new Error(r.stderr); });
      made = Number((await fakexen.current.xl('domid', 'made')).stdout.trim());
    });
    afterAll(async () => { await fakexen.current.xl('destroy', String(made)); });

    const listLong = async () => {
      const theirs = await xl('list', '-l', String(made));
      const ours = await host.retrieveDomainConfiguration(made);
      ours.config.b_info.sched_params = parseDomainList(theirs)[0]!.config.b_info.sched_params;
      expect(formatDomainList([{ domid: made, config: ours.config }])).toBe(theirs);
      expect(ours.devices.problems).toEqual([]);
      return ours.config;
    };

    it('adds a vfb with the nodes libxl writes for the same vfb at create time (library only: xl has no vfb-attach)', async () => {
      const where = { libxlPath: `/libxl/${made}/device/vfb/0`, frontendPath: `/local/domain/${made}/device/vfb/0`, backendPath: `/local/domain/0/backend/vfb/${made}/0` };
      const theirs = await deviceSnapshot(xenstore, where);
      expect(theirs.backendPath).toContain(`/vnclisten = "0.0.0.0" (n0,r${made})`);
      const stored = (await host.templates.read(made)).vfbs;
      expect(stored.map((v) => v.devid)).toEqual([0]); // xl numbers the config's vfbs
      await listLong();
      expect((await host.removeDevice(made, 'vfb', 0)).prunedEntries).toBe(1);
      expect((await listLong()).vfbs).toEqual([]);
      const added = await host.addDevice(made, 'vfb', { vnc: { ...stored[0]!.vnc } });
      expect(added).toMatchObject({ ...where, devid: 0, backendState: undefined });
      expect(await deviceSnapshot(xenstore, where)).toEqual(theirs);
      expect((await listLong()).vfbs).toEqual(stored);
    });

    it('removes the p9 and the pvcallsif made at create time; list -l agrees with xl', async () => {
      expect((await listLong()).pvcallsifs.map((p) => p.devid)).toEqual([0]);
      const p9 = await host.removeDevice(made, 'p9', 0);
      const pvcalls = await host.removeDevice(made, 'pvcallsif', 0);
      expect([p9.backendPath, pvcalls.backendPath]).toEqual([`/local/domain/0/backend/9pfs/${made}/0`, `/local/domain/0/backend/pvcalls/${made}/0`]);
      expect(await xenstore.list(`/libxl/${made}/device/9pfs`)).toBeUndefined();
      expect(await xenstore.list(`/libxl/${made}/device/pvcalls`)).toBeUndefined();
      // The pvcallsif entry names its devid and is pruned; the p9 one has none and stays, as libxl leaves both.
      expect([p9.prunedEntries, pvcalls.prunedEntries]).toEqual([0, 1]);
      const config = await listLong();
      expect([config.p9s.map((p) => p.tag), config.pvcallsifs]).toEqual([['share'], []]);
    });
  });
});
