// Interop with the real xl/libxl 4.17 in ../shared/fakexen: devices we add
// are listed and detached by real xl, devices real xl attaches are removed
// by us, and the xenstore nodes we write equal libxl's, permissions included.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDomainList } from '../../lib/config/index.js';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { fakexenAvailable, useFakexen } from '../harness/fakexen.js';
import { checkInvariant, xenstoreDevices } from './guest.js';
import { deviceSnapshot, type DevicePaths } from './snapshot.js';

const noFakexen = fakexenAvailable();
describe.skipIf(noFakexen !== undefined)(`interop with real xl${noFakexen ? ` (skipped: ${noFakexen})` : ''}`, () => {
  const fakexen = useFakexen({ name: 'hotplug-interop' });
  let xenstore: XenStore;
  let host: XenHost;
  let domid: number;

  const xl = async (...args: string[]) => {
    const result = await fakexen.current.xl(...args);
    expect(result.code, `xl ${args.join(' ')}: ${result.stderr}`).toBe(0);
    return result.stdout;
  };
  const listLong = async () => parseDomainList(await xl('list', '-l', String(domid)))[0]!.config;

  const snapshot = (paths: DevicePaths) => deviceSnapshot(xenstore, paths);

  beforeAll(async () => {
    const env = fakexen.current.env;
    xenstore = XenStore.open({ path: env.XENSTORED_PATH });
    host = new XenHost({ xenstore, userdataDir: env.FAKEXEN_USERDATA_DIR, runHotplugScripts: false }); // xl's scripts exist only inside fakexen's path remap; its backend moves the states
    const cfg = join(env.FAKEXEN_RUN, 'interop.cfg');
    writeFileSync(cfg, [
      'name = "interop"', 'type = "pv"', 'memory = 128', 'vcpus = 1',
      'kernel = "/usr/lib/fakexen/mini-pv.elf"', "disk = ['phy:/dev/vg/guest,xvda,w']",
    ].join('\n'));
    await fakexen.current.xl('create', cfg).then((r) => { if (r.code !== 0) throw new Error(r.stderr); });
    domid = Number((await fakexen.current.xl('domid', 'interop')).stdout.trim());
  });
  afterAll(async () => {
    await fakexen.current.xl('destroy', String(domid));
    await host?.close();
    await xenstore?.close();
  });

  it('adds a disk and a nic that real xl list -l shows and real xl detaches', async () => {
    const disk = await host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdb', backend: 'phy', format: 'raw', readwrite: 1 });
    const nic = await host.addDevice(domid, 'nic', { mac: '00:16:3e:00:00:21', bridge: 'xenbr0' });
    // fakexen's backend reached InitWait; its hotplug scripts are run by libxl only (see README).
    expect([disk.backendState, nic.backendState]).toEqual([2, 2]);
    const config = await listLong();
    expect(config.disks.map((d) => d.vdev)).toEqual(['xvda', 'xvdb']);
    expect(config.nics.map((n) => [n.devid, n.mac])).toEqual([[nic.devid, '00:16:3e:00:00:21']]);
    await xl('block-detach', String(domid), 'xvdb');
    await xl('network-detach', String(domid), '00:16:3e:00:00:21');
    expect(await xenstoreDevices(xenstore, domid)).not.toContain('vbd/51728');
    expect(await xenstore.read(nic.libxlPath)).toBeUndefined();
    const after = await listLong();
    expect(after.disks.map((d) => d.vdev)).toEqual(['xvda']);
    expect(after.nics).toEqual([]);
  });

  it('removes a disk and a nic that real xl attached', async () => {
    await xl('block-attach', String(domid), 'phy:/dev/vg/scratch,xvdc,w');
    await xl('network-attach', String(domid), 'bridge=xenbr0');
    const nicDevid = (await listLong()).nics[0]!.devid;
    await host.removeDevice(domid, 'disk', 'xvdc');
    await host.removeDevice(domid, 'nic', nicDevid);
    const config = await listLong();
    expect(config.disks.map((d) => d.vdev)).toEqual(['xvda']);
    expect(config.nics).toEqual([]);
    await checkInvariant(host, domid);
  });

  it('writes the same xenstore nodes as libxl for the same disk', async () => {
    await xl('block-attach', String(domid), 'phy:/dev/vg/disk1,xvdd,w');
    const paths = {
      libxlPath: `/libxl/${domid}/device/vbd/51760`,
      frontendPath: `/local/domain/${domid}/device/vbd/51760`,
      backendPath: `/local/domain/0/backend/vbd/${domid}/51760`,
    };
    const theirs = await snapshot(paths);
    await xl('block-detach', String(domid), 'xvdd');
    // libxl picks phy by stat()ing the device; fakexen's devices exist only inside its shim.
    const added = await host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/disk1', vdev: 'xvdd', backend: 'phy', format: 'raw', readwrite: 1 });
    expect(added).toMatchObject(paths);
    expect(await snapshot(paths)).toEqual(theirs);
    expect(theirs.backendPath).toContain('/params = "/dev/vg/disk1" (n0,r' + domid + ')');
    await xl('block-detach', String(domid), 'xvdd');
  });

  it('writes the same xenstore nodes as libxl for the same nic', async () => {
    await xl('network-attach', String(domid), 'mac=00:16:3e:00:00:33', 'bridge=xenbr0');
    const devid = (await listLong()).nics[0]!.devid;
    const paths = {
      libxlPath: `/libxl/${domid}/device/vif/${devid}`,
      frontendPath: `/local/domain/${domid}/device/vif/${devid}`,
      backendPath: `/local/domain/0/backend/vif/${domid}/${devid}`,
    };
    const theirs = await snapshot(paths);
    await xl('network-detach', String(domid), String(devid));
    const added = await host.addDevice(domid, 'nic', { mac: '00:16:3e:00:00:33', bridge: 'xenbr0' });
    expect(added).toMatchObject({ ...paths, devid });
    expect(await snapshot(paths)).toEqual(theirs);
    expect(theirs.frontendPath).toContain(`/mtu = "1500" (n0,r${domid})`);
    // Both template entries carry what libxl generated: devid, nictype, mac.
    const entry = (await host.templates.read(domid)).nics.find((n) => n.devid === devid)!;
    expect([entry.mac, entry.nictype]).toEqual(['00:16:3e:00:00:33', 'vif']);
    await xl('network-detach', String(domid), String(devid));
  });
});
