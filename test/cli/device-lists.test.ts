// The <noun>-list commands next to the real xl 4.17 in ../shared/fakexen:
// domains whose devices xl attached and xen-domconfig attached, each list's
// standard output byte for byte equal to xl's (several devices, several
// domains in one call, a domain with none, values the guest wrote that xl
// reads with strtoul), a bad domain name, and --json's structure and values.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenStore } from '../../lib/xenstore/index.js';
import { fakexenAvailable, useFakexen, type XlResult } from '../harness/fakexen.js';
import { runCli, type CliResult } from './run.js';

const MULTI_DOMAIN_KINDS = ['block', 'network', 'vtpm', 'vkb', 'vdispl', 'vsnd', 'channel'] as const;
const ONE_DOMAIN_KINDS = ['usb', 'pci'] as const;
const VTPM_UUID = '5a0fd7b2-61c3-4a0e-9d0a-3f7f9b1c2d4e';

const noFakexen = fakexenAvailable();
describe.skipIf(noFakexen !== undefined)(`device lists next to real xl${noFakexen ? ` (skipped: ${noFakexen})` : ''}`, () => {
  const fakexen = useFakexen({ name: 'device-lists' });
  let xenstore: XenStore;
  const domids: Record<string, number> = {};

  const xl = (...args: string[]): Promise<XlResult> => fakexen.current.xl(...args);
  const mustXl = async (...args: string[]): Promise<void> => {
    const result = await xl(...args);
    if (result.code !== 0) throw new Error(`xl ${args.join(' ')}: ${result.stderr}`);
  };
  const ours = (...args: string[]): Promise<CliResult> => {
    const env = fakexen.current.env;
    return runCli(['--xenstore', env.XENSTORED_PATH, '--userdata-dir', env.FAKEXEN_USERDATA_DIR, '--no-hotplug-scripts', ...args]);
  };
  const mustOurs = async (...args: string[]): Promise<void> => {
    const result = await ours(...args);
    if (result.code !== 0) throw new Error(`xen-domconfig ${args.join(' ')}: ${result.stderr}`);
  };

  async function create(name: string, type: 'pv' | 'pvh', extra: string[] = []): Promise<void> {
    const cfg = join(fakexen.current.env.FAKEXEN_RUN, `${name}.cfg`);
    writeFileSync(cfg, [`name = "${name}"`, `type = "${type}"`, 'memory = 128', 'vcpus = 1', 'kernel = "/usr/lib/fakexen/mini-pv.elf"', ...extra].join('\n'));
    await mustXl('create', cfg);
    domids[name] = Number((await xl('domid', name)).stdout.trim());
  }

  /** What a guest would write into its frontend dirs (dom0 writes them here): xl shows them through strtoul. */
  async function writeFrontend(name: string, relative: string, values: Record<string, string>): Promise<void> {
    const base = `/local/domain/${domids[name]}/device/${relative}`;
    for (const [key, value] of Object.entries(values)) await xenstore.write(`${base}/${key}`, value);
  }

  beforeAll(async () => {
    xenstore = XenStore.open({ path: fakexen.current.env.XENSTORED_PATH });
    // libxl 4.17 gives the first channel devid 0, the primary console's, and
    // refuses it ("Primary console has invalid configuration"): the other two become channels 1 and 2.
    await create('byxl', 'pv', [
      `channel = [ "name=lost.first,connection=pty", "name=org.qemu.guest_agent.0,connection=pty", "name=sock.chan,connection=socket,path=${join(fakexen.current.env.FAKEXEN_RUN, 'chan.sock')}" ]`,
    ]);
    await create('byus', 'pv');
    await create('bare', 'pvh');
    const byxl = String(domids.byxl);
    await mustXl('block-attach', byxl, 'phy:/dev/vg/disk2,xvdf,w');
    await mustXl('block-attach', byxl, 'phy:/dev/vg/disk3,xvdg,r');
    await mustXl('network-attach', byxl, 'bridge=xenbr0');
    await mustXl('network-attach', byxl, 'bridge=xenbr0', 'mac=00:16:3e:0a:0b:0c');
    await mustXl('vtpm-attach', byxl);
    await mustXl('vkb-attach', byxl, 'backend-type=linux', 'unique-id=KB0');
    await mustXl('vkb-attach', byxl, 'backend-type=linux');
    await mustXl('vdispl-attach', byxl, 'connectors=id0:1920x1080;id1:800x600');
    await mustXl('vsnd-attach', byxl, 'card,short-name=C,long-name=Card,sample-rates=8000;44100,sample-formats=s16_le;u8,buffer-size=1024',
      'pcm,name=p0,channels-min=1', 'stream,unique-id=s0,type=p', 'stream,unique-id=s1,type=c,channels-max=2');
    await mustXl('usbctrl-attach', byxl, 'type=pv', 'version=2', 'ports=4');
    await mustXl('usbctrl-attach', byxl, 'type=pv', 'version=1', 'ports=2');
    // /dev/vg exists only inside fakexen's path remap: the backend type is given, so nothing is looked up.
    await mustOurs('block-attach', 'byus', 'backendtype=phy,vdev=xvdb,access=w,target=/dev/vg/data');
    await mustOurs('network-attach', 'byus', 'mac=00:16:3e:01:02:03', 'bridge=xenbr0');
    await mustOurs('vtpm-attach', 'byus', `uuid=${VTPM_UUID}`);
    await mustOurs('vkb-attach', 'byus', 'backend-type=linux', 'unique-id=K2');
    await mustOurs('vdispl-attach', 'byus', 'connectors=c0:640x480', 'be-alloc=1');
    await mustOurs('vsnd-attach', 'byus', 'card,short-name=S', 'pcm,name=out', 'stream,unique-id=o0,type=p,sample-rates=48000');
    await mustOurs('usbctrl-attach', 'byus', 'type=pv', 'ports=2');
    // The guest's side: event channels and ring references, some well formed, some not.
    await writeFrontend('byxl', 'vbd/51792', { state: '4', 'event-channel': '17', 'ring-ref': '8' });
    await writeFrontend('byxl', 'vbd/51808', { state: ' 3x', 'event-channel': '-5', 'ring-ref': '4294967297' });
    await writeFrontend('byxl', 'vif/0', { 'event-channel': '99999999999999999999999', 'tx-ring-ref': '0x10', 'rx-ring-ref': 'abc' });
    await writeFrontend('byxl', 'vtpm/0', { 'event-channel': '+7', 'ring-ref': '' });
    await writeFrontend('byxl', 'vkbd/0', { 'event-channel': '3', 'page-gref': '12' });
    await writeFrontend('byxl', 'vdispl/0', { '0/req-ring-ref': '5', '0/req-event-channel': '6', '1/evt-ring-ref': '-1', '1/evt-event-channel': '2147483648' });
    await writeFrontend('byxl', 'vsnd/0', { '0/0/ring-ref': '21', '0/0/event-channel': '22' });
    // usb's getinfo reads with atoi, not strtoul: the int keeps the low 32 bits of strtol's long.
    await writeFrontend('byxl', 'vusb/0', { state: ' 5x', 'event-channel': '9' });
    await writeFrontend('byxl', 'vusb/1', { state: '-2147483649' });
    await writeFrontend('byxl', 'console/1', { port: '15', 'ring-ref': '1234', state: '4' });
    await writeFrontend('byus', 'vbd/51728', { state: '4', 'event-channel': '30', 'ring-ref': '31' });
  }, 180_000);

  afterAll(async () => {
    await xenstore?.close();
  });

  it.each(MULTI_DOMAIN_KINDS)('%s-list of several domains (names and ids, one without devices) prints what xl prints', async (kind) => {
    const args = ['byxl', String(domids.byus), 'bare'];
    const theirs = await xl(`${kind}-list`, ...args);
    const mine = await ours(`${kind}-list`, ...args);
    expect(theirs.code).toBe(0);
    expect(mine.stderr).toBe('');
    expect(mine.code).toBe(0);
    expect(mine.stdout).toBe(theirs.stdout);
    // Not an empty comparison: every kind shows devices of byxl.
    expect(mine.stdout.split('\n').length).toBeGreaterThan(2);
  });

  it.each(ONE_DOMAIN_KINDS.flatMap((kind) => ['byxl', 'byus', 'bare'].map((name) => [kind, name] as const)))('%s-list %s prints what xl prints', async (kind, name) => {
    const theirs = await xl(`${kind}-list`, name);
    const mine = await ours(`${kind}-list`, name);
    expect([mine.code, mine.stderr]).toEqual([theirs.code, '']);
    expect(mine.stdout).toBe(theirs.stdout);
  });

  it('usb-list shows each controller with its ports', async () => {
    const mine = await ours('usb-list', 'byxl');
    expect(mine.stdout).toBe([
      'Devid  Type         BE  state usb-ver ports', '0      pv           0   5     2       4    ', '  Port 1:', '  Port 2:', '  Port 3:', '  Port 4:',
      'Devid  Type         BE  state usb-ver ports', '1      pv           0   2147483647 1       2    ', '  Port 1:', '  Port 2:', '',
    ].join('\n'));
  });

  it('a sound card format or stream type libxl cannot read back: nothing for that domain, as xl prints', async () => {
    const card = `/local/domain/${domids.byxl}/device/vsnd/0`;
    for (const [key, value] of [['sample-formats', 'S16_LE,bogus'], ['0/1/type', 'x']]) {
      const before = (await xenstore.read(`${card}/${key}`))!;
      await xenstore.write(`${card}/${key}`, value);
      try {
        const theirs = await xl('vsnd-list', 'byxl', 'byus');
        const mine = await ours('vsnd-list', 'byxl', 'byus');
        expect(mine.stdout).toBe(theirs.stdout);
        expect(mine.stdout).toMatch(/^\ndevid: 0, be-domid: 0, handle: \d+, state: 1, be-path: \/local\/domain\/0\/backend\/vsnd\/\d+\/0/);
        expect(mine.stdout).not.toContain('"Card"');
      } finally {
        await xenstore.write(`${card}/${key}`, before);
      }
    }
  });

  it('sound card formats in any case and separated by spaces too, as libxl reads them back (strtok " ,", from_string)', async () => {
    const key = `/local/domain/${domids.byxl}/device/vsnd/0/sample-formats`;
    const before = (await xenstore.read(key))!;
    await xenstore.write(key, 'S16_LE  U8,');
    try {
      const theirs = await xl('vsnd-list', 'byxl');
      expect((await ours('vsnd-list', 'byxl')).stdout).toBe(theirs.stdout);
      expect(theirs.stdout).toContain('sample-rates: s16_le;u8\n');
    } finally {
      await xenstore.write(key, before);
    }
  });

  it('a domain id with no domain lists nothing, as xl does', async () => {
    for (const kind of [...MULTI_DOMAIN_KINDS, ...ONE_DOMAIN_KINDS]) {
      const theirs = await xl(`${kind}-list`, '77');
      const mine = await ours(`${kind}-list`, '77');
      expect([kind, mine.code, mine.stdout]).toEqual([kind, 0, theirs.stdout]);
    }
  });

  it('a name no domain has: the titles as xl prints them, one line on stderr, and a failure status', async () => {
    for (const kind of [...MULTI_DOMAIN_KINDS, ...ONE_DOMAIN_KINDS]) {
      const theirs = await xl(`${kind}-list`, 'nosuch');
      const mine = await ours(`${kind}-list`, 'nosuch');
      expect([kind, mine.stdout]).toEqual([kind, theirs.stdout]);
      expect(theirs.stderr).toContain('nosuch is an invalid domain identifier');
      expect(mine.stderr).toBe("xen-domconfig: no domain is named 'nosuch'\n");
      // xl exits 1 where it stops at the name (find_domain), 0 where it goes on (see the README's differences).
      expect([kind, theirs.code]).toEqual([kind, ['block', 'vtpm', 'vdispl', 'vsnd'].includes(kind) ? 0 : 1]);
      expect(mine.code).toBe(4);
    }
  });

  it('the other domains are still listed after a bad name', async () => {
    const theirs = await xl('block-list', 'nosuch', 'byus');
    const mine = await ours('block-list', 'nosuch', 'byus');
    expect(mine.stdout).toBe(theirs.stdout);
    expect(mine.stdout).toContain('/local/domain/0/backend/vbd/');
    expect(mine.code).toBe(1);
  });

  it('--json: the listing of each domain, with what the guest wrote kept as written', async () => {
    const byus = domids.byus!;
    const result = await ours('--json', 'block-list', 'byus', 'bare');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      {
        domid: byus,
        devices: [{
          kind: 'disk',
          identity: 'xvdb',
          devid: 51728,
          backendDomid: 0,
          libxlPath: `/libxl/${byus}/device/vbd/51728`,
          frontendPath: `/local/domain/${byus}/device/vbd/51728`,
          backendPath: `/local/domain/0/backend/vbd/${byus}/51728`,
          backendState: 2,
          guestReported: { state: 4, values: { state: '4', 'event-channel': '30', 'ring-ref': '31' } },
        }],
        problems: [],
      },
      { domid: domids.bare, devices: [], problems: [] },
    ]);
  });

  it('--json: what each kind adds (mac, uuid, unique-id, connectors, the card, usb ports, channels)', async () => {
    const listed = async (kind: string, name: string) => {
      const result = await ours('--json', `${kind}-list`, name);
      expect(result.code).toBe(0);
      const [listing] = JSON.parse(result.stdout) as [{ devices: { details?: unknown; guestReported: { details?: unknown } }[] }];
      return listing.devices;
    };
    expect((await listed('network', 'byus')).map((d) => d.details)).toEqual([{ mac: '00:16:3e:01:02:03' }]);
    expect((await listed('vtpm', 'byus')).map((d) => d.details)).toEqual([{ uuid: VTPM_UUID }]);
    expect((await listed('vkb', 'byxl')).map((d) => d.details)).toEqual([{ backendType: 'linux', uniqueId: 'KB0' }, { backendType: 'linux' }]);
    expect((await listed('vdispl', 'byus')).map((d) => d.guestReported.details)).toEqual([
      { 'be-alloc': '1', connectors: [{ 'unique-id': 'c0', resolution: '640x480' }] },
    ]);
    expect((await listed('vsnd', 'byus')).map((d) => d.guestReported.details)).toEqual([{
      values: { 'short-name': 'S' },
      params: {},
      pcms: [{ values: { name: 'out' }, params: {}, streams: [{ values: { 'unique-id': 'o0', type: 'p' }, params: { 'sample-rates': '48000' } }] }],
    }]);
    expect((await listed('usb', 'byus')).map((d) => d.details)).toEqual([{
      type: 'pv', 'usb-ver': '2', 'num-ports': '2', ports: [{ port: 1, busid: '' }, { port: 2, busid: '' }],
    }]);
    expect((await listed('channel', 'byxl')).map((d) => [d.details, d.guestReported.details])).toEqual([
      [{ name: 'org.qemu.guest_agent.0', connection: 'pty' }, undefined],
      [{ name: 'sock.chan', connection: 'socket', path: join(fakexen.current.env.FAKEXEN_RUN, 'chan.sock') }, undefined],
    ]);
  });
});
