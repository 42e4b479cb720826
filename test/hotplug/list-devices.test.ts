// listDevices against the real xenstored: what exists comes from the trusted
// /libxl nodes; the backend's and the guest's states are reported, and a
// guest's writes never change which devices are listed or where they are.
import { describe, expect, it } from 'vitest';
import { createGuest } from './guest.js';
import { useHotplugRig } from './rig.js';

const rig = useHotplugRig({ name: 'list-devices' });

describe('listDevices', () => {
  it('lists each device with its identity, paths, backend state and what the guest reports', async () => {
    const domid = 4;
    await createGuest(rig.xenstore, rig.host.templates, domid);
    const disk = await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdb', backend: 'phy', format: 'raw', readwrite: 1 });
    const nic = await rig.host.addDevice(domid, 'nic', { bridge: 'xenbr0' });
    const vkb = await rig.host.addDevice(domid, 'vkb', { backend_type: 'linux' });
    // The guest connects its nic as far as it likes: reported, nothing more.
    await rig.xenstore.write(`${nic.frontendPath}/state`, '4');
    await rig.xenstore.write(`${nic.frontendPath}/event-channel`, '17');
    await rig.xenstore.write(`${nic.frontendPath}/tx-ring-ref`, '8');

    const all = await rig.host.listDevices(domid);
    expect(all.problems).toEqual([]);
    expect(all.devices.map((d) => [d.kind, d.identity, d.devid])).toEqual([['disk', 'xvdb', 51728], ['nic', '0', 0], ['vkb', '0', 0]]);
    expect(all.devices[0]).toMatchObject({
      libxlPath: disk.libxlPath, frontendPath: disk.frontendPath, backendPath: disk.backendPath, backendDomid: 0, backendState: 2,
      guestReported: { state: 1, values: { 'event-channel': undefined, 'ring-ref': undefined } },
    });
    expect(all.devices[1]!.guestReported).toEqual({ state: 4, values: { state: '4', 'event-channel': '17', 'tx-ring-ref': '8', 'rx-ring-ref': undefined } });
    // What xl network-list prints of it beyond the generic fields: the MAC of its /libxl node.
    expect(all.devices[1]!.details).toEqual({ mac: nic.entry.mac });
    expect(all.devices[2]).toMatchObject({ backendPath: vkb.backendPath });
    expect([1, 2]).toContain(all.devices[2]!.backendState); // a vkb add does not wait for its backend

    const nics = await rig.host.listDevices(domid, 'nic');
    expect(nics.devices.map((d) => d.backendPath)).toEqual([nic.backendPath]);
    await expect(rig.host.listDevices(domid, 'floppy' as never)).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('reports a /libxl node whose frontend or backend path is not its own, and lists the rest', async () => {
    const domid = 5;
    await createGuest(rig.xenstore, rig.host.templates, domid);
    const good = await rig.host.addDevice(domid, 'vtpm', {});
    const bad = await rig.host.addDevice(domid, 'vtpm', {});
    await rig.xenstore.write(`${bad.libxlPath}/frontend`, `/local/domain/${domid}/device/vtpm/0`);
    const listing = await rig.host.listDevices(domid, 'vtpm');
    expect(listing.devices.map((d) => d.devid)).toEqual([good.devid]);
    expect(listing.problems).toEqual([{ kind: 'vtpm', path: `${bad.libxlPath}/frontend`, reason: `is not ${bad.frontendPath}` }]);
  });
});
