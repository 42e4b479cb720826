// pci-list, channel-list and the ports of usb-list on a private real
// xenstored, with the nodes libxl 4.17 writes for devices fakexen cannot
// attach (PCI passthrough, usb devices behind usbback) or that it does not
// vary (a channel's tty and ring as xenconsoled and QEMU fill them in). The
// expected lines are xl's printf formats, quoted next to each.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usbctrl } from '../../lib/devices/kinds/usbctrl.js';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir } from '../domain/fixture.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { runCli } from './run.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;

const cli = (...args: string[]) => runCli(['--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, ...args]);

/** Writes `values` under `base`, as libxl__xs_writev does. */
async function writeAll(base: string, values: Record<string, string>): Promise<void> {
  for (const [key, value] of Object.entries(values)) await store.write(`${base}/${key}`, value);
}

/**
 * The pci bus device of a PV guest with `devices`, as libxl_pci.c's
 * libxl__create_pci_backend and libxl_create_pci_backend_device write it
 * through libxl__device_generic_add:
 *   back: "frontend-id", "online" "1", "state" "1", "domain" <name>, then per device
 *         "key-%d" and "dev-%d" PCI_BDF ("%04x:%02x:%02x.%01x"),
 *         "vdevfn-%d" "%x" only `if (pci->vdevfn)`, "opts-%d", "state-%d" "1"; "num_devs" "%d"
 *   front: "backend-id" "0", "state" "1"
 * and the /libxl node of device 0 (frontend, backend and the back keys).
 */
async function passThrough(domid: number, name: string, devices: { bdf: string; vdevfn?: number }[]): Promise<void> {
  const backend = `/local/domain/0/backend/pci/${domid}/0`;
  const frontend = `/local/domain/${domid}/device/pci/0`;
  const back: Record<string, string> = { 'frontend-id': String(domid), online: '1', state: '1', domain: name };
  devices.forEach(({ bdf, vdevfn }, i) => {
    back[`key-${i}`] = bdf;
    back[`dev-${i}`] = bdf;
    if (vdevfn) back[`vdevfn-${i}`] = vdevfn.toString(16);
    back[`opts-${i}`] = 'msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict';
    back[`state-${i}`] = '1';
  });
  back.num_devs = String(devices.length);
  await writeAll(backend, back);
  await writeAll(frontend, { backend, 'backend-id': '0', state: '1' });
  await writeAll(`/libxl/${domid}/device/pci/0`, { frontend, backend, ...back });
}

/**
 * A console as libxl_console.c's libxl__device_console_add writes it for a
 * channel (devid 1 and up, no build state):
 *   back: "frontend-id", "online" "1", "state" "1", "protocol" "vt100", "name", "connection", "path" (socket)
 *   front: "backend-id", "state" "1", "protocol" "vt100"
 *   ro_front: "name", "limit" "1048576", "type" "ioemu", "output" ("pty" or "chardev:libxl-channel%d"), "tty" ""
 * with the /libxl node holding frontend, backend and the back keys.
 */
async function console(domid: number, devid: number, back: Record<string, string>, front: Record<string, string> = {}): Promise<void> {
  const backend = `/local/domain/0/backend/console/${domid}/${devid}`;
  const frontend = devid === 0 ? `/local/domain/${domid}/console` : `/local/domain/${domid}/device/console/${devid}`;
  const backKeys = { 'frontend-id': String(domid), online: '1', state: '1', protocol: 'vt100', ...back };
  await writeAll(backend, backKeys);
  await writeAll(frontend, {
    backend, 'backend-id': '0', state: '1', protocol: 'vt100', limit: '1048576', type: 'ioemu', tty: '',
    ...(back.name === undefined ? {} : { name: back.name, output: back.connection === 'pty' ? 'pty' : `chardev:libxl-channel${devid}` }),
    ...front,
  });
  await writeAll(`/libxl/${domid}/device/console/${devid}`, { frontend, backend, ...backKeys });
}

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  for (const [domid, name] of [[3, 'passthru'], [4, 'plain'], [5, 'channels']] as const) {
    await createDomain(store, userdata.dir, { domid, name, type: 'pv' });
  }
  await passThrough(3, 'passthru', [{ bdf: '0000:03:00.1', vdevfn: 0x28 }, { bdf: '0000:04:1f.7' }, { bdf: '0001:0a:02.3', vdevfn: 0xff }]);
  await console(5, 0, {});
  await console(5, 1, { name: 'org.qemu.guest_agent.0', connection: 'pty' }, { tty: '/dev/pts/7', port: '15', 'ring-ref': '1234', state: '4' });
  await console(5, 2, { name: 'sock.chan', connection: 'socket', path: '/run/xen/sock.chan' }, { port: ' 9', 'ring-ref': '-2' });
});

afterAll(async () => {
  await store?.close();
  userdata.remove();
});

describe('pci-list', () => {
  it('prints xl_pci.c\'s title and one line per device', async () => {
    const result = await cli('pci-list', 'passthru');
    expect(result.code).toBe(0);
    // printf("Vdev Device\n"); printf("%02x.%01x %04x:%02x:%02x.%01x\n", (vdevfn >> 3) & 0x1f, vdevfn & 0x7, domain, bus, dev, func)
    expect(result.stdout).toBe('Vdev Device\n05.0 0000:03:00.1\n00.0 0000:04:1f.7\n1f.7 0001:0a:02.3\n');
  });

  it('prints nothing for a domain without devices (libxl_device_pci_list is NULL), by name or id', async () => {
    expect(await cli('pci-list', 'plain')).toMatchObject({ code: 0, stdout: '', stderr: '' });
    expect(await cli('pci-list', '4')).toMatchObject({ code: 0, stdout: '', stderr: '' });
  });

  it('--json: the devices of dom0\'s pci backend dir, each with its virtual slot as written', async () => {
    const result = await cli('--json', 'pci-list', '3');
    expect(result.code).toBe(0);
    const paths = { libxlPath: '/libxl/3/device/pci/0', frontendPath: '/local/domain/3/device/pci/0', backendPath: '/local/domain/0/backend/pci/3/0' };
    const common = { kind: 'pci', backendDomid: 0, ...paths, backendState: 1, guestReported: { state: 1, values: { state: '1' } } };
    expect(JSON.parse(result.stdout)).toEqual([{
      domid: 3,
      devices: [
        { ...common, identity: '0000:03:00.1', devid: 0, details: { vdevfn: '28' } },
        { ...common, identity: '0000:04:1f.7', devid: 1, details: {} },
        { ...common, identity: '0001:0a:02.3', devid: 2, details: { vdevfn: 'ff' } },
      ],
      problems: [],
    }]);
  });

  it('takes one domain, as xl does', async () => {
    const result = await cli('pci-list', 'passthru', 'plain');
    expect(result.code).toBe(2);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('a malformed device entry is named on stderr and the others are listed', async () => {
    await store.write('/local/domain/0/backend/pci/3/0/dev-1', 'not-a-bdf');
    try {
      const result = await cli('pci-list', 'passthru');
      expect(result.stdout).toBe('Vdev Device\n05.0 0000:03:00.1\n1f.7 0001:0a:02.3\n');
      expect(result.stderr).toMatch(/^xen-domconfig: domain 3: pci \/local\/domain\/0\/backend\/pci\/3\/0\/dev-1 skipped: .*\n$/);
      expect(result.code).toBe(0);
    } finally {
      await store.write('/local/domain/0/backend/pci/3/0/dev-1', '0000:04:1f.7');
    }
  });
});

describe('channel-list', () => {
  // printf("%-3s %-2s %-5s %-6s %8s %-10s %-30s\n", "Idx", "BE", "state", "evt-ch", "ring-ref", "connection", "")
  const TITLE = `Idx BE state evt-ch ring-ref connection ${' '.repeat(30)}\n`;

  it('prints the named consoles: state, port and ring-ref from the frontend, a pty\'s tty', async () => {
    const result = await cli('channel-list', 'channels', 'plain');
    expect(result.code).toBe(0);
    // "%-3d %-2d ", "%-5d ", "%-6d %-8d ", "%-10s ", for a pty "%-30s ", then "\n"
    expect(result.stdout).toBe(`${TITLE}0   0  4     15     1234     pty        ${'/dev/pts/7'.padEnd(30)} \n1   0  1     9      -2       socket     \n`);
  });

  it('a pty channel without a tty shows /NO-SUCH-PATH, as libxl_device_channel_getinfo does', async () => {
    await store.rm('/local/domain/5/device/console/1/tty');
    try {
      expect((await cli('channel-list', '5')).stdout).toContain(`pty        ${'/NO-SUCH-PATH'.padEnd(30)} \n`);
    } finally {
      await store.write('/local/domain/5/device/console/1/tty', '/dev/pts/7');
    }
  });

  it('--json: the channels with their name and connection, and what the frontend holds as written', async () => {
    const result = await cli('--json', 'channel-list', 'channels');
    const [listing] = JSON.parse(result.stdout) as [{ devices: Record<string, unknown>[] }];
    expect(listing.devices.map((d) => [d.identity, d.libxlPath, d.details, d.guestReported])).toEqual([
      ['1', '/libxl/5/device/console/1', { name: 'org.qemu.guest_agent.0', connection: 'pty' },
        { state: 4, values: { state: '4', port: '15', 'ring-ref': '1234', tty: '/dev/pts/7' } }],
      ['2', '/libxl/5/device/console/2', { name: 'sock.chan', connection: 'socket', path: '/run/xen/sock.chan' },
        { state: 1, values: { state: '1', port: ' 9', 'ring-ref': '-2', tty: '' } }],
    ]);
  });

  it('a channel whose connection is neither pty nor socket is named on stderr, the others listed', async () => {
    await store.write('/libxl/5/device/console/2/connection', 'carrier-pigeon');
    try {
      const result = await cli('channel-list', 'channels');
      expect(result.stdout).toBe(`${TITLE}0   0  4     15     1234     pty        ${'/dev/pts/7'.padEnd(30)} \n`);
      expect(result.stderr).toMatch(/^xen-domconfig: domain 5: channel \/libxl\/5\/device\/console\/2\/connection skipped: not pty or socket/);
    } finally {
      await store.write('/libxl/5/device/console/2/connection', 'socket');
    }
  });
});

describe('usb-list ports', () => {
  it('a port holding a usb device shows its bus and address from sysfs, as libxl_ctrlport_to_device_usbdev reads them; BE is the backend\'s domain', async () => {
    const sysfs = mkdtempSync(join(tmpdir(), 'xen-domconfig-sysfs-'));
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir, sysfsRoot: sysfs });
    try {
      mkdirSync(join(sysfs, 'bus/usb/devices/1-1.2'), { recursive: true });
      writeFileSync(join(sysfs, 'bus/usb/devices/1-1.2/busnum'), '1\n');
      writeFileSync(join(sysfs, 'bus/usb/devices/1-1.2/devnum'), '26\n');
      // libxl__device_usbctrl_add_xenstore: /libxl node with type and backend; backend usb-ver, num-ports, port/<n>.
      const backend = '/local/domain/0/backend/vusb/4/0';
      const frontend = '/local/domain/4/device/vusb/0';
      await writeAll('/libxl/4/device/vusb/0', { frontend, backend, type: 'pv', 'frontend-id': '4', online: '1', state: '1' });
      await writeAll(backend, { 'frontend-id': '4', online: '1', state: '4', type: 'pv', 'usb-ver': '2', 'num-ports': '3', 'port/1': '', 'port/2': '1-1.2', 'port/3': '9-9' });
      await writeAll(frontend, { backend, 'backend-id': '0', state: '4' });
      // A second controller served by usbback in driver domain 7.
      const driverBackend = '/local/domain/7/backend/vusb/4/1';
      await writeAll('/libxl/4/device/vusb/1', { frontend: `${frontend.slice(0, -1)}1`, backend: driverBackend, type: 'pv' });
      await writeAll(driverBackend, { 'frontend-id': '4', state: '2', type: 'pv', 'usb-ver': '1', 'num-ports': '1', 'port/1': '' });
      const { devices } = await host.listDevices(4, 'usbctrl');
      expect(devices.map((d) => d.details)).toEqual([{
        type: 'pv', 'usb-ver': '2', 'num-ports': '3',
        ports: [{ port: 1, busid: '' }, { port: 2, busid: '1-1.2', hostbus: 1, hostaddr: 26 }, { port: 3, busid: '9-9' }],
      }, { type: 'pv', 'usb-ver': '1', 'num-ports': '1', ports: [{ port: 1, busid: '' }] }]);
      // printf("%-6s %-12s %-3s %-5s %-7s %-5s\n", …), printf("%-6d %-12s %-3d %-5d %-7d %-5d\n", …),
      // printf("  Port %d:", j) then " Bus %03x Device %03x\n" or "\n" (a busid sysfs does not know).
      expect(usbctrl.list!.format(devices, 4)).toBe([
        'Devid  Type         BE  state usb-ver ports', '0      pv           0   4     2       3    ',
        '  Port 1:', '  Port 2: Bus 001 Device 01a', '  Port 3:',
        // xl prints 0 as BE for every controller (libxl_device_usbctrl_getinfo never sets backend_id): here, the backend's domain.
        'Devid  Type         BE  state usb-ver ports', '1      pv           7   -1    1       1    ', '  Port 1:', '',
      ].join('\n'));
    } finally {
      await host.close();
      rmSync(sysfs, { recursive: true, force: true });
    }
  });
});
