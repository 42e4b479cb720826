// retrieveDomainConfiguration against a real xenstored holding libxl's layout.
import { existsSync, statSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MEMKB_DEFAULT, type DomainConfig } from '../../lib/config/index.js';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { createDomain, disk, entryOf, nic, tempUserdataDir, uuidOf } from './fixture.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;
let host: XenHost;
beforeAll(() => {
  store = XenStore.open({ path: xs.current.socketPath });
  host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
});
afterAll(async () => {
  await host.close();
  await store.close();
  userdata.remove();
});

describe('refreshed fields', () => {
  it('name, uuid, vCPUs and memory come from xenstore; the rest from the template', async () => {
    const stored = await createDomain(store, userdata.dir, {
      domid: 3, name: 'three', type: 'pv', maxVcpus: 4, onlineVcpus: 2, maxMemKb: 524288, targetMemKb: 262144,
      template: (config) => {
        config.b_info.video_memkb = 0n;
        config.b_info.sched_params.weight = 512;
        config.c_info.name = 'old-name';
      },
    });
    await store.write('/local/domain/3/name', 'renamed');
    await store.write('/local/domain/3/cpu/3/availability', 'online');
    await store.write('/local/domain/3/cpu/1/availability', 'Online'); // only exactly "online" counts
    await store.rm('/local/domain/3/cpu/0');                          // ENOENT leaves the bit clear
    await store.write('/local/domain/3/cpu/7/availability', 'online'); // beyond max_vcpus: ignored
    await store.write('/local/domain/3/memory/target', '131072');
    await store.write('/local/domain/3/memory/static-max', '1048576');

    const { config, devices } = await host.retrieveDomainConfiguration(3);
    expect(config.c_info.name).toBe('renamed');
    expect(config.c_info.uuid).toBe(uuidOf(3));
    expect(config.b_info.avail_vcpus).toEqual([3]);
    expect(config.b_info.target_memkb).toBe(131072n);
    expect(config.b_info.max_memkb).toBe(1048576n);
    // Hypercall data is not read: sched_params stay as stored.
    expect(config.b_info.sched_params).toEqual(stored.b_info.sched_params);
    expect(config.b_info.kernel).toEqual(stored.b_info.kernel);
    expect(devices).toEqual({ onlyInTemplate: [], onlyInXenstore: [], problems: [] });
  });

  it('a template claiming 2 000 000 000 vCPUs is read up to Xen\'s 4096 (the loops over max_vcpus are capped)', async () => {
    await createDomain(store, userdata.dir, {
      domid: 40, name: 'many-vcpus', type: 'pv', maxVcpus: 2, onlineVcpus: 2,
      template: (config) => { config.b_info.max_vcpus = 2_000_000_000; },
    });
    await store.write('/local/domain/40/cpu/4095/availability', 'online');
    await store.write('/local/domain/40/cpu/4096/availability', 'online'); // beyond Xen's bound: not believed
    const { config } = await host.retrieveDomainConfiguration(40);
    expect(config.b_info.avail_vcpus).toEqual([0, 1, 4095]);
    expect(config.b_info.max_vcpus).toBe(2_000_000_000); // stored values are kept as they are
  });

  it('target_memkb adds video_memkb, and 1024 KiB for HVM with max > target (from the template before refresh)', async () => {
    await createDomain(store, userdata.dir, {
      domid: 4, name: 'four', type: 'pvh', maxMemKb: 524288, targetMemKb: 262144,
      template: (config) => { config.b_info.video_memkb = 8192n; },
    });
    expect((await host.retrieveDomainConfiguration(4)).config.b_info.target_memkb).toBe(262144n + 8192n);
    await createDomain(store, userdata.dir, {
      domid: 6, name: 'six', type: 'pv',
      template: (config) => { config.b_info.video_memkb = MEMKB_DEFAULT; },
    });
    // LIBXL_MEMKB_DEFAULT is not added (libxl 4.17 adds it and wraps: one KiB low).
    expect((await host.retrieveDomainConfiguration(6)).config.b_info.target_memkb).toBe(262144n);
  });

  it('a missing name is an error (libxl silently keeps the stale one)', async () => {
    await createDomain(store, userdata.dir, { domid: 8, name: 'eight', type: 'pv' });
    await store.rm('/local/domain/8/name');
    await expect(host.retrieveDomainConfiguration(8)).rejects.toMatchObject({ code: 'EXSVALUE', path: '/local/domain/8/name' });
  });

  it.each([['0x100'], [' 1024'], ['+1024'], ['1024 '], [''], ['1e3'], ['-1'], ['18446744073709551616'], ['9'.repeat(4000)]])(
    'memory/target %# is refused', async (value) => {
      await createDomain(store, userdata.dir, { domid: 9, name: 'nine', type: 'pv' });
      await store.write('/local/domain/9/memory/target', value);
      await expect(host.retrieveDomainConfiguration(9)).rejects.toMatchObject({ code: 'EXSVALUE', path: '/local/domain/9/memory/target' });
    });

  it('a malformed vm path is refused before any file is named after it', async () => {
    await createDomain(store, userdata.dir, { domid: 10, name: 'ten', type: 'pv' });
    await store.write('/local/domain/10/vm', '/vm/../../etc/passwd');
    await expect(host.retrieveDomainConfiguration(10)).rejects.toMatchObject({ code: 'EXSVALUE', path: '/local/domain/10/vm' });
  });

  it('missing or corrupt templates and vanished domains are typed errors', async () => {
    await createDomain(store, userdata.dir, { domid: 11, name: 'eleven', type: 'pv' });
    const templates = host.templates;
    const { data } = templates.paths(11, uuidOf(11));
    const { rm, writeFile } = await import('node:fs/promises');
    await writeFile(data, '{"c_info": {"type": "pv"');
    await expect(host.retrieveDomainConfiguration(11)).rejects.toMatchObject({ code: 'ECORRUPT' });
    await rm(data);
    await expect(host.retrieveDomainConfiguration(11)).rejects.toMatchObject({ code: 'ENOTEMPLATE' });
    await expect(host.retrieveDomainConfiguration(99)).rejects.toMatchObject({ code: 'ENODOMAIN' });
  });

  it('a domain destroyed while it is read is ENODOMAIN, not a stale success', async () => {
    await createDomain(store, userdata.dir, { domid: 13, name: 'thirteen', type: 'pv', maxVcpus: 2, onlineVcpus: 2,
      devices: [{ kind: 'disk', entry: disk('xvda', '/dev/vg/a') }],
      template: (config) => { config.disks = [entryOf('disk', { vdev: 'xvda', pdev_path: '/dev/vg/a' })]; } });
    // libxl's destroy removes the domain's dirs between retrieve's first reads and the ones under the lock.
    const destroyer = {
      readMany: async (paths: readonly string[]) => {
        if (paths.includes('/local/domain/13/cpu/0/availability')) {
          await store.rm('/local/domain/13');
          await store.rm('/libxl/13');
        }
        return store.readMany(paths);
      },
      readTree: (path: string) => store.readTree(path),
      list: (path: string) => store.list(path),
    };
    const racing = new XenHost({ xenstore: store, userdataDir: userdata.dir, reader: destroyer });
    await expect(racing.retrieveDomainConfiguration(13)).rejects.toMatchObject({ code: 'ENODOMAIN', domid: 13 });
    // Nobody would remove a lock file kept for a domain already gone.
    expect(existsSync(host.templates.paths(13, uuidOf(13)).lock)).toBe(false);
  });

  it('leaves the lock file of a live domain for the next holder, which locks the same inode', async () => {
    await createDomain(store, userdata.dir, { domid: 15, name: 'fifteen', type: 'pv' });
    const { lock } = host.templates.paths(15, uuidOf(15));
    await host.retrieveDomainConfiguration(15);
    const kept = statSync(lock).ino;
    await host.retrieveDomainConfiguration(15);
    expect(statSync(lock).ino).toBe(kept);
    const release = await host.templates.lock(15, { timeoutMs: 0 });
    expect(statSync(lock).ino).toBe(kept);
    await release();
    expect(existsSync(lock)).toBe(false); // a plain release is libxl's: unlink, then close
  });

  it('a rename while the lock is awaited is seen: the name is read under the lock', async () => {
    await createDomain(store, userdata.dir, { domid: 14, name: 'fourteen', type: 'pv' });
    const release = await host.templates.lock(14);
    const retrieving = host.retrieveDomainConfiguration(14);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await store.write('/local/domain/14/name', 'renamed-while-locked');
    await release();
    expect((await retrieving).config.c_info.name).toBe('renamed-while-locked');
  });

  it('snapshot mode reads the same state inside one transaction', async () => {
    await createDomain(store, userdata.dir, { domid: 12, name: 'twelve', type: 'pv', devices: [{ kind: 'disk', entry: disk('xvda', '/dev/vg/a') }],
      template: (config) => { config.disks = [entryOf('disk', { vdev: 'xvda', pdev_path: '/dev/vg/a' })]; } });
    const plain = await host.retrieveDomainConfiguration(12);
    const snapshot = await host.retrieveDomainConfiguration(12, { snapshot: true });
    expect(snapshot).toEqual(plain);
    expect(plain.config.disks.map((d) => d.vdev)).toEqual(['xvda']);
  });
});

describe('device merge', () => {
  it('in both: kept; template only: dropped; xenstore only: reported — per kind', async () => {
    await createDomain(store, userdata.dir, {
      domid: 20, name: 'twenty', type: 'pv',
      devices: [
        { kind: 'disk', entry: disk('xvda', '/dev/vg/a') },
        { kind: 'disk', entry: disk('xvdc', '/dev/vg/c') },
        { kind: 'nic', entry: nic(0) },
        { kind: 'nic', entry: nic(2) },
        { kind: 'vtpm', entry: { devid: 0, backend_domid: 0, uuid: '12345678-1234-1234-1234-123456789abc' } },
      ],
      template: (config) => {
        config.disks = [
          entryOf('disk', { vdev: 'xvda', pdev_path: '/dev/vg/a', format: 'raw', readwrite: 1 }),
          entryOf('disk', { vdev: 'xvdb', pdev_path: '/dev/vg/b' }),
        ];
        config.nics = [entryOf('nic', { devid: 0, bridge: 'xenbr0' }), entryOf('nic', { devid: 1 })];
        config.vtpms = [entryOf('vtpm', { devid: 0 }), entryOf('vtpm', { devid: 3 })];
      },
    });
    const { config, devices } = await host.retrieveDomainConfiguration(20);
    expect(config.disks).toEqual([entryOf('disk', { vdev: 'xvda', pdev_path: '/dev/vg/a', format: 'raw', readwrite: 1 })]);
    expect(config.nics).toEqual([entryOf('nic', { devid: 0, bridge: 'xenbr0' })]);
    expect(config.vtpms).toEqual([entryOf('vtpm', { devid: 0 })]);
    expect(devices.onlyInTemplate.map((d) => [d.kind, d.key])).toEqual([['disk', 'xvdb'], ['nic', '1'], ['vtpm', '3']]);
    expect(devices.onlyInXenstore.map((d) => [d.kind, d.key, d.path])).toEqual([
      ['disk', 'xvdc', '/libxl/20/device/vbd/51744'],
      ['nic', '2', '/libxl/20/device/vif/2'],
    ]);
    expect(devices.problems).toEqual([]);
  });

  it('ejected cdrom: removable with empty params becomes pdev_path "" and format empty', async () => {
    const cdrom = (vdev: string, path: string) => disk(vdev, path, { is_cdrom: 1, removable: 1, readwrite: 0, backend: 'qdisk' });
    await createDomain(store, userdata.dir, {
      domid: 21, name: 'cd', type: 'hvm',
      devices: [{ kind: 'disk', entry: cdrom('hdc', '/srv/cd.iso') }, { kind: 'disk', entry: cdrom('hdd', '/srv/other.iso') }],
      template: (config) => {
        config.disks = ['hdc', 'hdd'].map((vdev) => entryOf('disk', { vdev, pdev_path: '/srv/cd.iso', format: 'raw', is_cdrom: 1, removable: 1 }));
      },
    });
    await store.write('/libxl/21/device/vbd/5632/params', ''); // eject, as libxl_cdrom_insert writes it
    await store.write('/libxl/21/dm-version', 'qemu_xen_traditional'); // vCPUs from xenstore, no QEMU needed here
    const { config } = await host.retrieveDomainConfiguration(21);
    expect(config.disks.map((d) => [d.vdev, d.pdev_path, d.format])).toEqual([
      ['hdc', '', 'empty'],
      // media present: the template wins, even when xenstore names other media
      ['hdd', '/srv/cd.iso', 'raw'],
    ]);
    const drift = await host.diffDomainConfiguration(21);
    expect(drift.merged.map((m) => [m.kind, m.key, m.stored.pdev_path, m.merged.pdev_path])).toEqual([['disk', 'hdc', '/srv/cd.iso', '']]);
  });

  it('the keys under a device node the template names are not read: changing them changes nothing', async () => {
    await createDomain(store, userdata.dir, {
      domid: 26, name: 'keys', type: 'pv',
      devices: [
        { kind: 'disk', entry: disk('xvda', '/dev/vg/a') },
        { kind: 'disk', entry: disk('hdc', '/srv/cd.iso', { is_cdrom: 1, removable: 1, readwrite: 0 }) },
        { kind: 'nic', entry: nic(0) },
        { kind: 'vtpm', entry: { devid: 0, backend_domid: 0, uuid: '12345678-1234-1234-1234-123456789abc' } },
      ],
      template: (config) => {
        config.disks = [entryOf('disk', { vdev: 'xvda', pdev_path: '/dev/vg/a' }), entryOf('disk', { vdev: 'hdc', pdev_path: '/srv/cd.iso', is_cdrom: 1, removable: 1 })];
        config.nics = [entryOf('nic', { devid: 0 })];
        config.vtpms = [entryOf('vtpm', { devid: 0 })];
      },
    });
    const before = await host.retrieveDomainConfiguration(26);
    expect(before.config.disks.map((d) => d.vdev)).toEqual(['xvda', 'hdc']);
    // What libxl's from_xenstore reads beyond the node's name: another vdev,
    // removable flag, handle and backend (here another domain's), or none.
    await store.write('/libxl/26/device/vbd/51712/dev', 'xvdz');
    await store.write('/libxl/26/device/vbd/51712/removable', '1');
    await store.write('/libxl/26/device/vbd/51712/params', '');
    await store.rm('/libxl/26/device/vbd/5632/dev');
    await store.write('/libxl/26/device/vbd/5632/removable', 'x');
    await store.write('/libxl/26/device/vif/0/handle', '4');
    await store.write('/libxl/26/device/vif/0/backend', '/local/domain/0/backend/vif/23/0');
    await store.rm('/libxl/26/device/vtpm/0/backend');
    expect(await host.retrieveDomainConfiguration(26)).toEqual(before);
    // The media of a removable disk are read: its params say it is ejected.
    await store.write('/libxl/26/device/vbd/5632/params', '');
    expect((await host.retrieveDomainConfiguration(26)).config.disks.map((d) => [d.vdev, d.pdev_path])).toEqual([['xvda', '/dev/vg/a'], ['hdc', '']]);
  });

  it('a disk node the template does not account for is read whole; one malformed node costs that node only (libxl drops every disk)', async () => {
    await createDomain(store, userdata.dir, {
      domid: 22, name: 'bad', type: 'pv',
      devices: [{ kind: 'disk', entry: disk('xvda', '/dev/vg/a') }, { kind: 'disk', entry: disk('xvdb', '/dev/vg/b') }, { kind: 'nic', entry: nic(0) }],
      template: (config) => {
        // xvdb and d1p0 are two spellings of one device number: libxl compares the vdev strings.
        config.disks = ['xvda', 'xvdb', 'd1p0'].map((vdev) => entryOf('disk', { vdev }));
        config.nics = [entryOf('nic', { devid: 0 })];
      },
    });
    await store.write('/libxl/22/device/vbd/51744/backend', '/local/domain/0/backend/vbd/22/51744');
    await store.write('/libxl/22/device/vbd/51744/removable', '0'); // no dev
    await store.write('/libxl/22/device/vbd/garbage/dev', 'xvdz');
    await store.write('/libxl/22/device/vif/3/backend', '/local/domain/0/backend/vif/22/3');
    const { config, devices } = await host.retrieveDomainConfiguration(22);
    expect(config.disks.map((d) => d.vdev)).toEqual(['xvda', 'xvdb']);
    expect(config.nics.map((n) => n.devid)).toEqual([0]);
    expect(devices.problems.map((p) => [p.kind, p.path])).toEqual([
      ['disk', '/libxl/22/device/vbd/51744'],
      ['disk', '/libxl/22/device/vbd/garbage'],
    ]);
    expect(devices.problems[0]!.reason).toMatch(/dev: missing/);
    expect(devices.onlyInTemplate.map((d) => d.key)).toEqual(['d1p0']);
    expect(devices.onlyInXenstore.map((d) => [d.kind, d.key])).toEqual([['nic', '3']]);
  });

  it('the same vdev under vbd and virtio_disk is ambiguous: both reported, neither kept (libxl merges it twice)', async () => {
    await createDomain(store, userdata.dir, {
      domid: 24, name: 'twice', type: 'pv',
      devices: [{ kind: 'disk', entry: disk('xvda', '/dev/vg/a') }, { kind: 'disk', entry: disk('xvdb', '/dev/vg/b') }],
      template: (config) => { config.disks = ['xvda', 'xvdb'].map((vdev) => entryOf('disk', { vdev })); },
    });
    const vbd = (await store.readTree('/libxl/24/device/vbd/51712'))!;
    for (const key of vbd.children) await store.write(`/libxl/24/device/virtio_disk/51712/${key.name}`, key.value);
    const { config, devices } = await host.retrieveDomainConfiguration(24);
    expect(config.disks.map((d) => d.vdev)).toEqual(['xvdb']);
    expect(devices.problems.map((p) => p.path).sort()).toEqual(['/libxl/24/device/vbd/51712', '/libxl/24/device/virtio_disk/51712']);
    expect(devices.problems[0]!.reason).toMatch(/listed more than once/);
  });

  it('guest-writable frontend dirs are never consulted', async () => {
    await createDomain(store, userdata.dir, {
      domid: 23, name: 'hostile', type: 'pv',
      devices: [{ kind: 'disk', entry: disk('xvda', '/dev/vg/a') }, { kind: 'nic', entry: nic(0) }],
      template: (config) => {
        config.disks = [entryOf('disk', { vdev: 'xvda' })];
        config.nics = [entryOf('nic', { devid: 0 })];
      },
    });
    const before = await host.retrieveDomainConfiguration(23);
    // Everything a guest can do to its own frontend dirs.
    await store.rm('/local/domain/23/device/vbd/51712');
    await store.write('/local/domain/23/device/vif/0/backend', '/local/domain/0/backend/vbd/1/51712');
    await store.write('/local/domain/23/device/vif/0/handle', 'x'.repeat(4000));
    await store.write('/local/domain/23/device/vbd/51728/backend', '/local/domain/0/backend/vbd/23/51728');
    await store.write('/local/domain/23/device/vtpm/0/backend', '/local/domain/0/backend/vtpm/23/0');
    // …and what a driver domain can do to its backend dirs.
    await store.write('/local/domain/0/backend/vbd/23/51712/params', '');
    await store.write('/local/domain/0/backend/vbd/23/51712/removable', '1');
    expect(await host.retrieveDomainConfiguration(23)).toEqual(before);
  });

  it('usb controllers and devices: usbdevs are kept (libxl drops them all)', async () => {
    await createDomain(store, userdata.dir, {
      domid: 24, name: 'usb', type: 'hvm',
      template: (config) => {
        config.usbctrls = [entryOf('usbctrl', { devid: 0, type: 'devicemodel' }), entryOf('usbctrl', { devid: 1, type: 'pv' }), entryOf('usbctrl', { devid: 2 })];
        config.usbdevs = [
          entryOf('usbdev', { ctrl: 0, port: 1, type: 'hostdev', u: { hostbus: 1, hostaddr: 2 } }),
          entryOf('usbdev', { ctrl: 1, port: 2, type: 'hostdev', u: { hostbus: 3, hostaddr: 4 } }),
          entryOf('usbdev', { ctrl: 0, port: 2, type: 'hostdev', u: { hostbus: 5, hostaddr: 6 } }),
        ];
      },
    });
    await store.write('/libxl/24/dm-version', 'qemu_xen_traditional');
    // A devicemodel controller lives only under /libxl; a pv one has a dom0 backend.
    const dm = '/libxl/24/device/vusb/0';
    for (const [key, value] of [['type', 'devicemodel'], ['usb-ver', '2'], ['num-ports', '8'], ['port/1', '1-1'], ['port/2', '']]) {
      await store.write(`${dm}/${key}`, value);
    }
    const pv = '/libxl/24/device/vusb/1';
    await store.write(`${pv}/frontend`, '/local/domain/24/device/vusb/1');
    await store.write(`${pv}/backend`, '/local/domain/0/backend/vusb/24/1');
    await store.write(`${pv}/type`, 'pv');
    await store.write('/local/domain/0/backend/vusb/24/1/port/1', '');
    await store.write('/local/domain/0/backend/vusb/24/1/port/2', '3-4');
    const { config, devices } = await host.retrieveDomainConfiguration(24);
    expect(config.usbctrls.map((c) => c.devid)).toEqual([0, 1]);
    expect(config.usbdevs.map((d) => [d.ctrl, d.port])).toEqual([[0, 1], [1, 2]]);
    expect(devices.onlyInTemplate.map((d) => [d.kind, d.key])).toEqual([['usbctrl', '2'], ['usbdev', '0:2']]);
  });

  it('pci from dom0\'s backend dir; vdispl and vsnd by devid', async () => {
    await createDomain(store, userdata.dir, {
      domid: 25, name: 'pci', type: 'pv',
      template: (config) => {
        config.pcidevs = [entryOf('pci', { domain: 0, bus: 3, dev: 0, func: 1 }), entryOf('pci', { domain: 0, bus: 4, dev: 0, func: 0 })];
        config.vdispls = [entryOf('vdispl', { devid: 0 }), entryOf('vdispl', { devid: 1 })];
        config.vsnds = [entryOf('vsnd', { devid: 0 })];
      },
    });
    const be = '/local/domain/0/backend/pci/25/0';
    await store.write(`${be}/num_devs`, '2');
    await store.write(`${be}/dev-0`, '0000:03:00.1');
    await store.write(`${be}/dev-1`, '0000:05:00.0');
    for (const kind of ['vdispl', 'vsnd']) {
      await store.write(`/libxl/25/device/${kind}/0/frontend`, `/local/domain/25/device/${kind}/0`);
      await store.write(`/libxl/25/device/${kind}/0/backend`, `/local/domain/0/backend/${kind}/25/0`);
    }
    const { config, devices } = await host.retrieveDomainConfiguration(25);
    expect(config.pcidevs.map((p) => [p.bus, p.func])).toEqual([[3, 1]]);
    expect(config.vdispls.map((d) => d.devid)).toEqual([0]);
    expect(config.vsnds.map((d) => d.devid)).toEqual([0]);
    expect(devices.onlyInXenstore.map((d) => [d.kind, d.key])).toEqual([['pci', '0000:05:00.0']]);
    // A list probes pci only for the domains under dom0's pci backend dir (listed once): the same answer.
    const listed = (await host.listDomains({ long: true })).find((entry) => entry.domid === 25);
    expect(listed).toMatchObject({ config: { pcidevs: config.pcidevs }, devices: { onlyInXenstore: devices.onlyInXenstore } });
    await store.write(`${be}/num_devs`, '1000000');
    const flooded = await host.retrieveDomainConfiguration(25);
    expect(flooded.config.pcidevs).toEqual([]);
    expect(flooded.devices.problems.map((p) => p.path)).toEqual([`${be}/num_devs`]);
  });
});

describe('other arrays pass through', () => {
  it('vfbs, vkbs, channels, rdms… are returned as stored', async () => {
    let stored: DomainConfig | undefined;
    await createDomain(store, userdata.dir, {
      domid: 26, name: 'pass', type: 'pv',
      template: (config) => {
        // without a devid; one with a devid xenstore does not list is dropped (README)
        config.vfbs = [entryOf('vfb', { keymap: 'de' })];
        config.vkbs = [entryOf('vkb', { unique_id: 'K0' })];
        config.channels = [entryOf('channel', { devid: 0, name: 'org.qemu.guest_agent.0' })];
        stored = config;
      },
    });
    const { config } = await host.retrieveDomainConfiguration(26);
    expect(config.vfbs).toEqual(stored!.vfbs);
    expect(config.vkbs).toEqual(stored!.vkbs);
    expect(config.channels).toEqual(stored!.channels);
  });
});
