// usb devices at PV usb controllers against the real xenstored, with a sysfs
// stand-in (test/harness/fakesysfs.ts) for the host side. xl cannot attach a
// usb device here (the oracle has no host usb device), so each step is
// checked against libxl 4.17's tools/libs/light/libxl_usb.c, quoted per test.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { XenHost } from '../../lib/host.js';
import { HotplugError } from '../../lib/domain/hotplug.js';
import { createFakeSysfs, type FakeSysfs } from '../harness/fakesysfs.js';
import { hostSnapshot } from '../harness/snapshot.js';
import { createGuest } from './guest.js';
import { useHotplugRig } from './rig.js';

const rig = useHotplugRig({ name: 'usbdev' });
let nextDomid = 1;
let sysfs: FakeSysfs;
let host: XenHost;

// A storage stick with two interfaces on different drivers, a mouse, a device with no driver bound, and a hub.
beforeAll(() => {
  sysfs = createFakeSysfs([
    { busid: '1-1', bus: 1, address: 2, interfaces: { '1.0': 'usb-storage', '1.1': 'usbhid' } },
    { busid: '1-2', bus: 1, address: 3, interfaces: { '1.0': 'usbhid' } },
    { busid: '2-1.4', bus: 2, address: 5, interfaces: { '1.0': null } },
    { busid: '1-3', bus: 1, address: 4, deviceClass: 9, interfaces: { '1.0': null } },
  ]);
  host = new XenHost({ xenstore: rig.xenstore, userdataDir: rig.userdataDir, runHotplugScripts: false, sysfsRoot: sysfs.root });
});
afterAll(() => sysfs.close());
afterEach(() => expect(rig.backend.errors).toEqual([]));

async function guestWithController(ports = 4): Promise<number> {
  const domid = nextDomid++;
  await createGuest(rig.xenstore, rig.host.templates, domid);
  await host.addDevice(domid, 'usbctrl', { type: 'pv', ports });
  return domid;
}

const portPath = (domid: number, ctrl: number, port: number) => `/local/domain/0/backend/vusb/${domid}/${ctrl}/port/${port}`;

describe('usbdev-attach on a PV controller', () => {
  it('writes the busid at the first free port, keeps the defaulted entry, notes the drivers and binds every interface to usbback', async () => {
    const domid = await guestWithController();
    const added = await host.addDevice(domid, 'usbdev', { type: 'hostdev', u: { hostbus: 1, hostaddr: 2 } });
    await sysfs.settle();
    // libxl__device_usbdev_setdefault: "if (tmp && !strcmp(tmp, \"\")) { usbdev->ctrl = usbctrls[i].devid; usbdev->port = j + 1;"
    expect(added).toMatchObject({ kind: 'usbdev', devid: 1, backendPath: portPath(domid, 0, 1), libxlPath: `/libxl/${domid}/device/vusb/0` });
    // libxl__device_usbdev_add_xenstore: "rc = libxl__xs_write_checked(gc, t, be_path, busid);"
    expect(await rig.xenstore.read(portPath(domid, 0, 1))).toBe('1-1');
    // usbback_dev_assign: "path = GCSPRINTF(USBBACK_INFO_PATH \"/%s/%s/driver_path\", usbdev_encode, usbintf_encode);"
    // usb_interface_xenstore_encode: '.' -> '_', ':' -> '@'
    expect(await rig.xenstore.readMany(['/libxl/usbback/1-1/1-1@1_0/driver_path', '/libxl/usbback/1-1/1-1@1_1/driver_path'])).toEqual([
      `${sysfs.root}/bus/usb/drivers/usb-storage`, `${sysfs.root}/bus/usb/drivers/usbhid`,
    ]);
    // usbback_dev_assign: per interface, unbind_usbintf from the original driver, then bind_usbintf(gc, intf, SYSFS_USBBACK_DRIVER)
    expect(sysfs.log).toEqual(['unbind usb-storage 1-1:1.0', 'bind usbback 1-1:1.0', 'unbind usbhid 1-1:1.1', 'bind usbback 1-1:1.1']);
    expect([sysfs.driverOf('1-1:1.0'), sysfs.driverOf('1-1:1.1')]).toEqual(['usbback', 'usbback']);
    // libxl_device_usbdev_copy(CTX, &usbdev_saved, usbdev) after setdefault: the entry holds ctrl, port and type.
    const template = await host.templates.read(domid);
    expect(template.usbdevs).toEqual([{ ctrl: 0, port: 1, type: 'hostdev', u: { hostbus: 1, hostaddr: 2 } }]);
    expect((await host.listDevices(domid, 'usbctrl')).devices[0]!.details).toMatchObject({ ports: expect.arrayContaining([{ port: 1, busid: '1-1', hostbus: 1, hostaddr: 2 }]) });
    const { config, devices } = await host.retrieveDomainConfiguration(domid);
    expect(config.usbdevs.map((d) => [d.ctrl, d.port])).toEqual([[0, 1]]);
    expect(devices.onlyInXenstore).toEqual([]);

    sysfs.log.length = 0;
    // libxl__device_usbdev_remove (PV): usbback_dev_unassign, then remove_xenstore, then usbdev_rebind, which removes USBBACK_INFO_PATH/<busid>.
    const removed = await host.removeDevice(domid, 'usbdev', '0:1');
    await sysfs.settle();
    expect(removed).toMatchObject({ identity: '0:1', devid: 1, backendPath: portPath(domid, 0, 1), forced: false });
    expect(sysfs.log).toEqual(['unbind usbback 1-1:1.0', 'unbind usbback 1-1:1.1', 'bind usb-storage 1-1:1.0', 'bind usbhid 1-1:1.1']);
    expect([sysfs.driverOf('1-1:1.0'), sysfs.driverOf('1-1:1.1')]).toEqual(['usb-storage', 'usbhid']);
    expect(await rig.xenstore.read(portPath(domid, 0, 1))).toBe('');
    expect(await rig.xenstore.read('/libxl/usbback/1-1')).toBeUndefined();
    // libxl leaves the template entry on removal; retrieve drops it (its port is empty).
    expect((await host.templates.read(domid)).usbdevs).toHaveLength(1);
    expect((await host.retrieveDomainConfiguration(domid)).config.usbdevs).toEqual([]);
  });

  it('takes the named controller and port; an interface without a driver is bound with no note; detach rebinds nothing for it', async () => {
    const domid = await guestWithController();
    sysfs.log.length = 0;
    await host.addDevice(domid, 'usbdev', { ctrl: 0, port: 3, type: 'hostdev', u: { hostbus: 2, hostaddr: 5 } });
    await sysfs.settle();
    expect(await rig.xenstore.read(portPath(domid, 0, 3))).toBe('2-1.4');
    // usbintf_get_drvpath finds no driver link: no driver_path, no unbind.
    expect(await rig.xenstore.read('/libxl/usbback/2-1_4')).toBeUndefined();
    expect(sysfs.log).toEqual(['bind usbback 2-1.4:1.0']);
    await host.removeDevice(domid, 'usbdev', '0:3', { pruneTemplate: true });
    await sysfs.settle();
    expect(sysfs.driverOf('2-1.4:1.0')).toBeNull();
    expect((await host.templates.read(domid)).usbdevs).toEqual([]);
  });

  it('adds a controller with libxl\'s defaults when none has a free port, and uses its port 1', async () => {
    const domid = nextDomid++;
    await createGuest(rig.xenstore, rig.host.templates, domid);
    // The sysfs root has usbback loaded, so usbctrl's type auto is pv (usbback_is_loaded).
    const added = await host.addDevice(domid, 'usbdev', { type: 'hostdev', u: { hostbus: 1, hostaddr: 3 } });
    await sysfs.settle();
    expect(added).toMatchObject({ devid: 1, backendPath: portPath(domid, 0, 1) });
    const template = await host.templates.read(domid);
    expect(template.usbctrls.map((c) => [c.devid, c.type, c.version, c.ports])).toEqual([[0, 'pv', 2, 8]]);
    expect(template.usbdevs.map((d) => [d.ctrl, d.port])).toEqual([[0, 1]]);
    await host.removeDevice(domid, 'usbdev', '0:1');
    await sysfs.settle();
    expect(sysfs.driverOf('1-2:1.0')).toBe('usbhid');
  });
});

describe('refusals leave template, xenstore and sysfs as they were', () => {
  async function expectRefused(domid: number, device: Record<string, unknown>, code: string, message: RegExp) {
    const before = await hostSnapshot(rig.xenstore, rig.userdataDir);
    const drivers = ['1-1:1.0', '1-1:1.1', '1-2:1.0'].map((intf) => sysfs.driverOf(intf));
    const error = await host.addDevice(domid, 'usbdev', device).catch((e: unknown) => e);
    await sysfs.settle();
    expect(error).toBeInstanceOf(HotplugError);
    expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
    const after = await hostSnapshot(rig.xenstore, rig.userdataDir);
    expect(after.xenstore).toBe(before.xenstore);
    expect(after.folder).toEqual(before.folder);
    expect(['1-1:1.0', '1-1:1.1', '1-2:1.0'].map((intf) => sysfs.driverOf(intf))).toEqual(drivers);
  }

  it('a device sysfs does not have: ENODEV (is_usbdev_assignable: usbdev_busaddr_to_busid finds none)', async () => {
    const domid = await guestWithController();
    await expectRefused(domid, { type: 'hostdev', u: { hostbus: 7, hostaddr: 7 } }, 'ENODEV', /no usb device at bus 7 address 7/);
    await expectRefused(domid, { type: 'hostdev', u: {} }, 'ENODEV', /bus 0 address 0/); // "if (bus < 1 || addr < 1) return NULL;"
  });

  it("no type, or another: EINVAL (u is keyed by type, and libxl refuses all but hostdev)", async () => {
    const domid = await guestWithController();
    await expectRefused(domid, {}, 'EINVAL', /type must be 'hostdev'/);
    await expectRefused(domid, { u: { hostbus: 1, hostaddr: 2 } }, 'EINVAL', /type must be 'hostdev'.*not null/);
  });

  it('a hub: EINVAL ("return classcode != USBHUB_CLASS_CODE;")', async () => {
    const domid = await guestWithController();
    await expectRefused(domid, { type: 'hostdev', u: { hostbus: 1, hostaddr: 4 } }, 'EINVAL', /is a hub/);
  });

  it('a taken port, a port with ctrl unnamed, a missing controller, a full controller', async () => {
    const domid = await guestWithController(1);
    await host.addDevice(domid, 'usbdev', { ctrl: 0, port: 1, type: 'hostdev', u: { hostbus: 1, hostaddr: 3 } });
    await sysfs.settle();
    // "The controller port isn't available"
    await expectRefused(domid, { ctrl: 0, port: 1, type: 'hostdev', u: { hostbus: 2, hostaddr: 5 } }, 'EBUSY', /port 1 of usb controller 0 isn't available/);
    // "USB controller must be specified if you specify port"
    await expectRefused(domid, { port: 1, type: 'hostdev', u: { hostbus: 2, hostaddr: 5 } }, 'EINVAL', /must be specified/);
    // libxl_devid_to_device_usbctrl fails for an unknown controller
    await expectRefused(domid, { ctrl: 5, type: 'hostdev', u: { hostbus: 2, hostaddr: 5 } }, 'ENODEV', /no usb controller 5/);
    // libxl reads a port node it does not find as free and writes it; a port the controller lacks is refused here.
    await expectRefused(domid, { ctrl: 0, port: 9, type: 'hostdev', u: { hostbus: 2, hostaddr: 5 } }, 'EINVAL', /has ports 1 to 1, not 9/);
    // "No available port under specified controller"
    await expectRefused(domid, { ctrl: 0, type: 'hostdev', u: { hostbus: 2, hostaddr: 5 } }, 'EBUSY', /no available port/);
    // get_assigned_devices + is_usbdev_in_array: "USB device already attached to a domain"
    const other = await guestWithController();
    await expectRefused(other, { type: 'hostdev', u: { hostbus: 1, hostaddr: 3 } }, 'EBUSY', new RegExp(`already attached to a domain \\(domain ${domid} controller 0 port 1\\)`));
    await host.removeDevice(domid, 'usbdev', '0:1');
    await sysfs.settle();
  });

  it('a failed sysfs write: the interfaces go back to their drivers (usbback_dev_assign\'s out: unassign and rebind), the port and notes are gone, the template as it was', async () => {
    const domid = await guestWithController();
    sysfs.breakAttribute('usbhid', 'unbind');
    sysfs.log.length = 0;
    // Interface 1.0 moves to usbback; unbinding 1.1 from usbhid fails. (The broken file stays: no later test unbinds from usbhid.)
    await expectRefused(domid, { type: 'hostdev', u: { hostbus: 1, hostaddr: 2 } }, 'EIO', /cannot write 1-1:1.1 to .*1-1:1.1\/driver\/unbind: EISDIR/);
    expect(sysfs.log).toEqual(['unbind usb-storage 1-1:1.0', 'bind usbback 1-1:1.0', 'unbind usbback 1-1:1.0', 'bind usb-storage 1-1:1.0']);
  });
});

describe('usbdev-detach refusals', () => {
  it('no device at the port is ENODEV; a bad identity EINVAL; nothing changes', async () => {
    const domid = await guestWithController();
    const before = await hostSnapshot(rig.xenstore, rig.userdataDir);
    await expect(host.removeDevice(domid, 'usbdev', '0:2')).rejects.toMatchObject({ code: 'ENODEV', message: expect.stringMatching(/no usb device at controller 0 port 2/) });
    await expect(host.removeDevice(domid, 'usbdev', '3:1')).rejects.toMatchObject({ code: 'ENODEV' });
    await expect(host.removeDevice(domid, 'usbdev', 'xvda')).rejects.toMatchObject({ code: 'EINVAL' });
    const after = await hostSnapshot(rig.xenstore, rig.userdataDir);
    expect(after.xenstore).toBe(before.xenstore);
    expect(after.folder).toEqual(before.folder);
  });
});
