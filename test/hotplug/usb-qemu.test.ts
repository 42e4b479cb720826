// QEMU-served usb: devicemodel controllers and the usb devices at their ports
// go to QEMU over QMP, qusb controllers to QEMU's xen backend. No QEMU runs
// here: a QMP server on the domain's socket answers as QEMU does (greeting,
// capabilities, device_add / device_del) and records what it was asked, as
// test/domain/qmp.test.ts does. Each step is checked against libxl 4.17's
// tools/libs/light/libxl_usb.c, quoted per test.
import { join } from 'node:path';
import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenHost } from '../../lib/host.js';
import { createFakeSysfs, type FakeSysfs } from '../harness/fakesysfs.js';
import { hostSnapshot } from '../harness/snapshot.js';
import { createGuest, xenstoreDevices } from './guest.js';
import { useHotplugRig } from './rig.js';

const rig = useHotplugRig({ name: 'usb-qemu' });
let nextDomid = 1;
let sysfs: FakeSysfs;
let host: XenHost;
const servers: Server[] = [];
/** What each domain's QEMU was asked, as "command {arguments}". */
const asked = new Map<number, string[]>();
/** device_add / device_del ids QEMU refuses. */
const refused = new Set<string>();

function serveQmp(domid: number): Promise<void> {
  asked.set(domid, []);
  const server = createServer((socket) => {
    const send = (message: unknown) => socket.write(`${JSON.stringify(message)}\r\n`);
    send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: ['oob'] } });
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const request = JSON.parse(buffered.slice(0, nl)) as { execute: string; arguments?: { id?: string }; id: number };
        buffered = buffered.slice(nl + 1);
        if (request.execute === 'query-cpus-fast') { send({ return: [{ 'cpu-index': 0 }], id: request.id }); continue; }
        asked.get(domid)!.push(`${request.execute}${request.arguments ? ` ${JSON.stringify(request.arguments)}` : ''}`);
        if (refused.has(request.arguments?.id ?? '')) send({ error: { class: 'GenericError', desc: `Duplicate ID '${request.arguments!.id}' for device` }, id: request.id });
        else send({ return: {}, id: request.id });
      }
    });
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(join(rig.workDir, `qmp-libxl-${domid}`), resolve));
}

beforeAll(() => {
  sysfs = createFakeSysfs([{ busid: '1-1', bus: 1, address: 2, interfaces: { '1.0': 'usb-storage' } }]);
  host = new XenHost({
    xenstore: rig.xenstore, userdataDir: rig.userdataDir, runHotplugScripts: false, sysfsRoot: sysfs.root,
    qmpSocketPath: (domid) => join(rig.workDir, `qmp-libxl-${domid}`), qmpTimeoutMs: 2000,
  });
});
afterAll(async () => {
  sysfs.close();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
});

async function hvmGuest(): Promise<number> {
  const domid = nextDomid++;
  await createGuest(rig.xenstore, rig.host.templates, domid, 'hvm');
  await serveQmp(domid);
  return domid;
}

describe('devicemodel usb controllers', () => {
  it('type auto on an HVM guest: the /libxl node alone, then device_add of usb-ehci with id xenusb-<devid>; device_del and the node gone on removal', async () => {
    const domid = await hvmGuest();
    const added = await host.addDevice(domid, 'usbctrl', {});
    // libxl__device_usbctrl_setdefault: HVM auto -> DEVICEMODEL; version 2 is ehci, "Number of ports ... of version 2 is always 6"
    expect(added.entry).toMatchObject({ type: 'devicemodel', devid: 0, version: 2, ports: 6 });
    // libxl__device_usbctrl_add_xenstore with backend kind NONE: only the back keys, written under the libxl path by libxl__device_generic_add
    const node = await rig.xenstore.readTree(`/libxl/${domid}/device/vusb/0`);
    expect(node?.children.map((child) => `${child.name}=${child.value}`)).toEqual(['type=devicemodel', 'usb-ver=2', 'num-ports=6', 'port=']);
    expect(node?.children[3]!.children.map((child) => `${child.name}=${child.value}`)).toEqual(['1=', '2=', '3=', '4=', '5=', '6=']);
    expect(await rig.xenstore.read(`/local/domain/${domid}/device/vusb`)).toBeUndefined();
    expect(await rig.xenstore.read(`/local/domain/0/backend/vusb/${domid}`)).toBeUndefined();
    // libxl__device_usbctrl_add_hvm: driver usb-ehci, id "xenusb-%d"
    expect(asked.get(domid)).toEqual(['qmp_capabilities', 'device_add {"driver":"usb-ehci","id":"xenusb-0"}']);
    const { config } = await host.retrieveDomainConfiguration(domid);
    expect(config.usbctrls.map((c) => [c.devid, c.type, c.version, c.ports])).toEqual([[0, 'devicemodel', 2, 6]]);

    // xhci takes its port count as p2 and p3.
    await host.addDevice(domid, 'usbctrl', { type: 'devicemodel', version: 3, ports: 4 });
    expect(asked.get(domid)!.at(-1)).toBe('device_add {"driver":"nec-usb-xhci","p2":"4","p3":"4","id":"xenusb-1"}');

    // libxl__device_usbctrl_del_hvm, then libxl__device_usbctrl_del_xenstore's path cleanup.
    await host.removeDevice(domid, 'usbctrl', 1);
    await host.removeDevice(domid, 'usbctrl', 0, { pruneTemplate: true });
    // Each command on a connection of its own (libxl__ev_qmp), after qmp_capabilities.
    expect(asked.get(domid)!.slice(-4)).toEqual(['qmp_capabilities', 'device_del {"id":"xenusb-1"}', 'qmp_capabilities', 'device_del {"id":"xenusb-0"}']);
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
    expect((await host.templates.read(domid)).usbctrls.map((c) => c.devid)).toEqual([1]);
  });

  it('QEMU refusing the controller: EQMP, and the node and template as they were (libxl\'s device_usbctrl_add_qmp_cb removes the node)', async () => {
    const domid = await hvmGuest();
    refused.add('xenusb-0');
    try {
      const before = await hostSnapshot(rig.xenstore, rig.userdataDir);
      await expect(host.addDevice(domid, 'usbctrl', { type: 'devicemodel', version: 1 })).rejects.toMatchObject({
        code: 'EQMP', message: expect.stringMatching(/device_add failed: Duplicate ID 'xenusb-0'/),
      });
      const after = await hostSnapshot(rig.xenstore, rig.userdataDir);
      expect(after.xenstore).toBe(before.xenstore);
      expect(after.folder).toEqual(before.folder);
    } finally {
      refused.delete('xenusb-0');
    }
    // "Number of ports for USB controller of version 1 is always 2"
    await expect(host.addDevice(domid, 'usbctrl', { type: 'devicemodel', version: 1, ports: 4 })).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/always 2/) });
  });

  it('a usb device at a devicemodel controller: the busid under the /libxl node and QEMU\'s usb-host; device_del by bus and address on removal', async () => {
    const domid = await hvmGuest();
    await host.addDevice(domid, 'usbctrl', { type: 'devicemodel', version: 2 });
    sysfs.log.length = 0;
    const added = await host.addDevice(domid, 'usbdev', { type: 'hostdev', u: { hostbus: 1, hostaddr: 2 } });
    // vusb_get_port_path: devicemodel ports are under the libxl path
    expect(added.backendPath).toBe(`/libxl/${domid}/device/vusb/0/port/1`);
    expect(await rig.xenstore.read(added.backendPath)).toBe('1-1');
    // libxl__device_usbdev_add_hvm: id "xenusb-%d-%d" (bus, addr), driver usb-host, bus "xenusb-%d.0", port, hostbus, hostaddr
    expect(asked.get(domid)!.at(-1)).toBe('device_add {"id":"xenusb-1-2","driver":"usb-host","bus":"xenusb-0.0","port":"1","hostbus":"1","hostaddr":"2"}');
    expect(sysfs.log).toEqual([]); // QEMU opens the device itself: no usbback binding
    expect((await host.templates.read(domid)).usbdevs).toEqual([{ ctrl: 0, port: 1, type: 'hostdev', u: { hostbus: 1, hostaddr: 2 } }]);
    // The controller keeps its usb device: libxl would remove it first.
    await expect(host.removeDevice(domid, 'usbctrl', 0)).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/attached at ports 1/) });

    refused.add('xenusb-1-2');
    try {
      await expect(host.removeDevice(domid, 'usbdev', '0:1')).rejects.toMatchObject({ code: 'EQMP' });
      expect(await rig.xenstore.read(added.backendPath)).toBe('1-1'); // still there for another try
    } finally {
      refused.delete('xenusb-1-2');
    }
    await host.removeDevice(domid, 'usbdev', '0:1');
    expect(asked.get(domid)!.at(-1)).toBe('device_del {"id":"xenusb-1-2"}');
    expect(await rig.xenstore.read(added.backendPath)).toBe('');
    await host.removeDevice(domid, 'usbctrl', 0);
  });
});

describe('qusb controllers', () => {
  it('go to QEMU\'s xen backend when the device model offers qusb: backend kind qusb, no wait for InitWait', async () => {
    const domid = nextDomid++;
    await createGuest(rig.xenstore, rig.host.templates, domid);
    await expect(host.addDevice(domid, 'usbctrl', { type: 'qusb' })).rejects.toMatchObject({ code: 'EINVAL', message: expect.stringMatching(/qusb not supported by the device model/) });
    // libxl__query_qemu_backend: QEMU lists the backends it serves under device-model/<domid>/backends
    await rig.xenstore.write(`/local/domain/0/device-model/${domid}/backends/qusb`, '');
    const added = await host.addDevice(domid, 'usbctrl', { type: 'qusb', ports: 2 });
    expect(added).toMatchObject({ backendPath: `/local/domain/0/backend/qusb/${domid}/0`, backendState: undefined });
    expect(await rig.xenstore.readMany(['type', 'usb-ver', 'num-ports', 'port/2'].map((key) => `${added.backendPath}/${key}`))).toEqual(['qusb', '2', '2', '']);
    expect(await rig.xenstore.read(`/libxl/${domid}/device/vusb/0/backend`)).toBe(added.backendPath);
    await host.removeDevice(domid, 'usbctrl', 0, { force: true });
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
  });
});
