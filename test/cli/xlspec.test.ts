// xl's disk and vif specification syntaxes: fixed expectations, then the
// same parsers against the real `xl -N block-attach` / `xl -N network-attach`.
import { describe, expect, it } from 'vitest';
import { parseDiskSpec } from '../../lib/devices/kinds/disk.js';
import { parseVifSpec } from '../../lib/devices/kinds/nic.js';
import { SpecError } from '../../lib/devices/spec.js';
import { formatStruct, parseStruct } from '../../lib/config/index.js';
import { deviceType } from '../../lib/devices/index.js';
import { parseUsbctrlSpec } from '../../lib/devices/kinds/usbctrl.js';
import { parseUsbdevSpec } from '../../lib/devices/kinds/usbdev.js';
import { parseVdisplSpec } from '../../lib/devices/kinds/vdispl.js';
import { parseVkbSpec } from '../../lib/devices/kinds/vkb.js';
import { parseVsndSpec } from '../../lib/devices/kinds/vsnd.js';
import { parseVtpmSpec } from '../../lib/devices/kinds/vtpm.js';
import { fakexenAvailable, useFakexen } from '../harness/fakexen.js';

describe('disk specifications', () => {
  it.each([
    ['phy:/dev/vg/data,xvdb,w', { pdev_path: '/dev/vg/data', vdev: 'xvdb', format: 'raw', readwrite: 1 }],
    ['/srv/a.img,qcow2,xvdc,r', { pdev_path: '/srv/a.img', vdev: 'xvdc', format: 'qcow2' }],
    ['format=qcow2,vdev=xvdc,access=ro,target=/srv/xen/disk.qcow2', { pdev_path: '/srv/xen/disk.qcow2', vdev: 'xvdc', format: 'qcow2' }],
    ['file:/srv/xen/cd.iso,hdc:cdrom,r', { pdev_path: '/srv/xen/cd.iso', vdev: 'hdc', format: 'raw', removable: 1, is_cdrom: 1 }],
    [',xvdc:cdrom,r', { pdev_path: '', vdev: 'xvdc', format: 'empty', removable: 1, is_cdrom: 1 }],
    ['vdev=xvda,target=/a,b:c', { pdev_path: '/a,b:c', vdev: 'xvda', format: 'raw', readwrite: 1 }],
    ['nbd:host:1234,xvda,w', { pdev_path: 'host:1234', vdev: 'xvda', format: 'raw', script: 'block-nbd', readwrite: 1 }],
    ['backendtype=tap,backend=dom1,direct-io-safe,no-discard,vdev=xvda,/x', {
      backend_domname: 'dom1', pdev_path: '/x', vdev: 'xvda', backend: 'tap', format: 'raw', readwrite: 1,
      direct_io_safe: true, discard_enable: 'False',
    }],
  ])('%s', (spec, expected) => {
    const disk = parseDiskSpec(spec);
    expect(disk).toEqual(expected);
    expect(Object.keys(disk)).toEqual(Object.keys(expected)); // libxl's field order
  });

  it('takes the positional parameters as separate words, as xl block-attach does', () => {
    expect(parseDiskSpec(['phy:/dev/vg/data', 'xvdb', 'r'])).toEqual({ pdev_path: '/dev/vg/data', vdev: 'xvdb', format: 'raw' });
  });

  it.each([
    ['foo=bar,vdev=xvdb,target=/x', /unknown parameter near 'foo=b'/],
    ['/dev/vg/data,xvdb,w', /unknown value for format near 'xvdb'/], // without a prefix the second word is the format
    ['phy:/x,xvdb,w,extra', /too many positional parameters near 'extra'/],
    ['vdev=xvdb,grant_usage=1,target=/x', /bad disk syntax/], // not in xl 4.17
    ['vdev=xvda,vdev=xvdb,/x', /vdev respecified/],
    ['/x', /no vdev specified/],
    ['vdev=xvda', /no target specified/],
    ['foo:/x,xvda', /unknown deprecated disk prefix/],
    ['vdev=xvda,devtype=floppy,/x', /unknown value for type/],
  ])('rejects %s', (spec, message) => {
    expect(() => parseDiskSpec(spec)).toThrow(SpecError);
    expect(() => parseDiskSpec(spec)).toThrow(message);
  });
});

describe('vif specifications', () => {
  it('maps xl keys to libxl fields in libxl order', () => {
    const nic = parseVifSpec(['mac=00:16:3E:00:00:0A', 'bridge=br1', 'model=e1000', 'ip=10.0.0.5', 'type=ioemu', 'rate=10Mb/s', 'vifname=v1']);
    expect(JSON.stringify(nic)).toBe(JSON.stringify({
      model: 'e1000', mac: '00:16:3e:00:00:0a', ip: '10.0.0.5', bridge: 'br1', ifname: 'v1', nictype: 'vif_ioemu',
      rate_bytes_per_interval: 62500, rate_interval_usecs: 50000,
    }));
  });

  it('accepts a comma-separated spec as in a domain config', () => {
    expect(parseVifSpec('bridge=xenbr0,mac=00:16:3e:00:00:01,devid=0')).toEqual({ devid: 0, mac: '00:16:3e:00:00:01', bridge: 'xenbr0' });
  });

  it.each([
    [['vlan=3'], /unknown key 'vlan'/],
    [['bridge'], /unknown key 'bridge'/],
    [['mac=aa:bb'], /not a MAC address/],
    [['mtu=abc'], /not a number/],
    [['rate=010Mb/s'], /leading zero/],
    [['rate=10Mb/s@xx'], /invalid replenishment interval/],
    [['type=foo'], /type must be/],
    [['accel=x'], /not supported/],
  ])('rejects %j', (words, message) => {
    expect(() => parseVifSpec(words)).toThrow(SpecError);
    expect(() => parseVifSpec(words)).toThrow(message);
  });
});

describe('vkb, vdispl and vsnd specifications', () => {
  it('takes usbctrl-attach words one KEY=VALUE each, as xl does (xl usbctrl-attach has no -N)', () => {
    expect(parseUsbctrlSpec(['type=PV', 'version=1', 'ports=4'])).toEqual({ type: 'pv', version: 1, ports: 4 });
    expect(() => parseUsbctrlSpec(['type=pv,version=1'])).toThrow(/invalid usb controller type 'pv,version=1'/);
  });

  it('takes usbdev-attach words as parse_usbdev_config does: type, hostbus, hostaddr, controller, port', () => {
    expect(parseUsbdevSpec(['type=hostdev', 'hostbus=1', 'hostaddr=3', 'controller=0', 'port=2'])).toEqual({ ctrl: 0, port: 2, 'type.hostdev': { hostbus: 1, hostaddr: 3 } });
    expect(parseUsbdevSpec(['hostbus=2', 'hostaddr=5'])).toEqual({ 'type.hostdev': { hostbus: 2, hostaddr: 5 } });
    expect(() => parseUsbdevSpec(['type=host'])).toThrow(/invalid usb device type: host/);
    expect(() => parseUsbdevSpec(['hostbus=256'])).toThrow(/'256' is not a number from 0 to 255/);
    expect(() => parseUsbdevSpec(['port=32'])).toThrow(/from 0 to 31/);
  });

  it('turns multi-touch on for a multi-touch size, as xl does', () => {
    expect(parseVkbSpec(['backend-type=linux', 'multi-touch-width=3'])).toEqual({ backend_type: 'linux', feature_multi_touch: true, multi_touch_width: 3 });
  });

  it.each([
    [parseVkbSpec, ['backend-type=linux', 'width=0x10'], /'0x10' is not a number/],
    [parseVkbSpec, ['backend-type=linux', 'height=600px'], /'600px' is not a number/],
    [parseVdisplSpec, ['connectors=a:1x2,be-alloc=1'], /connector 'a:1x2,be-alloc=1' is not <id>:<width>x<height>/],
    [parseVsndSpec, ['card,sample-rates=0x1f40'], /'0x1f40' is not a number/],
    [parseUsbctrlSpec, ['type=pv', 'ports=0x3'], /'0x3' is not a number/],
  ])('refuses what xl reads loosely (strtoul, sscanf): %#', (parse, words, message) => {
    expect(() => parse(words)).toThrow(SpecError);
    expect(() => parse(words)).toThrow(message);
  });
});

// Each entry is one command line's spec words; xl and the parser must agree on
// success, and on the exact JSON when both succeed.
const DISK_SPECS: string[][] = [
  ['phy:/dev/vg/data,xvdb,w'], ['phy:/dev/vg/data,xvdb,r'], ['/dev/vg/data,raw,xvdb,w'], ['/dev/vg/data,,xvdb'],
  ['format=qcow2,vdev=xvdc,access=ro,target=/srv/xen/disk.qcow2'], [',xvdc:cdrom,r'], ['file:/srv/xen/cd.iso,hdc:cdrom,r'],
  ['format=raw,vdev=xvdb,access=rw,target=/a,b:c'], ['phy:/dev/vg/data,xvdb,w,extra'], ['xvda:'], ['qcow2:/srv/a.qcow2,xvda,w'],
  ['nbd:host:1234,xvda,w'], ['/x,raw,xvda,w', 'discard'], ['/x', 'raw', 'xvda', 'r'], ['vdev=xvda,target=/x,vdev=xvdb'],
  ['script=block-foo,vdev=xvda,/x'], ['colo,colo-host=h,colo-port=3,vdev=xvda,/x'], ['vdev=xvda,devtype=floppy,/x'],
  ['backendtype=tap,backend=dom1,direct-io-safe,no-discard,vdev=xvda,/x'], ['foo=bar,vdev=xvdb,target=/x'], ['bogus'],
  ['vdev=xvdb,grant_usage=1,target=/x'], ['vdev=xvdb,specification=virtio,target=/x'], ['/x,qcow,xvda,w'], ['/x,vhd,hda:cdrom'],
  ['vdev=hdc,devtype=cdrom,format=empty'], ['vdev=hdc,cdrom'], ['  /x, raw, xvda, w'], ['phy:/x,xvda,rw', 'format=qcow2'],
  ['vdev=xvda,access=x,/x'], ['backendtype=nope,vdev=xvda,/x'], ['foo:/x,xvda'], ['/x,qed,xvda:disk,w'], ['vdev=xvda,vdev=xvdb,/x'],
  ['format=raw,format=qcow2,vdev=xvda,/x'], ['tap2:aio:/x,xvda,w'], ['vhd:/x,xvda,w'], ['iscsi:iqn.foo,xvda,w'], ['drbd:res0,xvda,w'],
  ['/x,raw,xvda,w,'], ['/x=y,raw,xvda'], ['no-colo,vdev=xvda,/x'], ['colo-port=abc,vdev=xvda,/x'], ['target=,vdev=xvda'],
  ['hidden-disk=/h,active-disk=/a,colo-export=e,vdev=xvda,/x'], ['cdrom,vdev=hdc,target=/srv/xen/cd.iso'],
  ['vdev=xvda,specification=xen,specification=virtio,/x'], ['/x,raw,xvda:disk', 'devtype=disk'], ['raw:/x,xvda,w'],
  ['aio:/x,xvda'], ['ioemu:/x,xvda'], ['tapdisk:/x,xvda'], ['enbd:n,xvda'], ['access=r,vdev=xvda,target=/x'],
  // libxl_device_disk has `trusted`, but xl 4.17's disk grammar has no keyword for it: both refuse
  ['vdev=xvdw,trusted,target=/x'], ['vdev=xvdx,untrusted,target=/x'], ['trusted=1,vdev=xvdw,target=/x'],
];

const VIF_SPECS: string[][] = [
  ['mac=00:16:3e:00:00:01', 'bridge=br0', 'rate=10Mb/s', 'mtu=9000'], ['trusted'],
  ['untrusted', 'type=ioemu', 'ip=1.2.3.4', 'vifname=v0', 'model=e1000', 'devid=3', 'script=vif-route', 'backend=0', 'gatewaydev=eth0'],
  ['mac=aa:bb'], ['rate=1Gb/s@20ms'], ['rate=100KB/s@1s'], ['vlan=3'], ['mtu=abc'], ['mtu=1500'], ['netdev=eth1'], ['type=foo'],
  ['colo_checkpoint_port=3'], ['devid=0'], ['rate=5MB/s@500us'], ['rate=5MB/s@2'], ['rate=1b/s'], ['rate=abc'],
  ['mac=00:16:3E:AB:cd:0f'], ['mac=0:1:2:3:4:5'], ['type=vif', 'forwarddev=eth2'], ['bridge=xenbr0', 'bridge=xenbr1'],
  ['colo_sock_mirror_id=1', 'colo_filter_sec_rewriter0_queue=q'], ['rate=4294967295B/s@1us'], ['rate=8Kb/s@10'],
  ['ip=10.0.0.1 10.0.0.2', 'script=/etc/xen/scripts/vif-nat'],
];

// The kinds whose attach xl takes as KEY=VALUE words or items (xl_vtpm.c, xl_vkb.c, xl_vdispl.c, xl_vsnd.c).
const ITEM_SPECS: Record<'vtpm' | 'vkb' | 'vdispl' | 'vsnd', string[][]> = {
  vtpm: [
    ['uuid=12be052a-a3f0-4a5b-8f26-76dc48b1f73A'], ['backend=0'], ['uuid=nope'], ['foo=1'],
    ['uuid=12be052a-a3f0-4a5b-8f26-76dc48b1f73a,backend=0'], ['backend=0', 'uuid=12be052a-a3f0-4a5b-8f26-76dc48b1f73a'],
  ],
  vkb: [
    ['backend-type=linux', 'unique-id=K0', 'width=800', 'height=600'], ['backend-type=LINUX'], ['backend-type=qemu', 'backend=0'],
    ['backend-type=linux', 'multi-touch-width=3'], ['backend-type=linux', 'feature-multi-touch=1'], ['unique-id=K0'],
    ['backend-type=linux,width=3'], ['backend-type=linux', 'feature-abs-pointer=2', 'feature-raw-pointer=0'],
    ['backend-type=linux', 'feature-disable-keyboard=1', 'feature-disable-pointer=1', 'multi-touch-height=4', 'multi-touch-num-contacts=2'],
    ['backend-type=mouse'], ['backend-type=linux', 'colour=red'],
  ],
  vdispl: [
    ['connectors=a:1x2;b:3x4'], ['connectors=id0:1920x1080', 'be-alloc=1'], ['be-alloc=1'], ['foo=1'], ['connectors=a:1x2', 'backend=0'],
  ],
  vsnd: [
    ['card,short-name=S', 'pcm,name=p', 'stream,unique-id=u,type=c'], ['card,long-name=L,sample-rates=8000;44100,sample-formats=s16_le;u8'],
    ['pcm,name=p0,buffer-size=4096,channels-min=1,channels-max=2', 'stream,unique-id=s0,type=P'], ['stream,unique-id=s0'],
    ['card,backend=0'], ['stream,type=x'], ['card,bogus=1'], ['pcm,sample-formats=nope'], ['speaker'], ['pcm,name=a', 'pcm,name=b', 'stream,type=p'],
  ],
};
const ITEM_PARSERS = { vtpm: parseVtpmSpec, vkb: parseVkbSpec, vdispl: parseVdisplSpec, vsnd: parseVsndSpec };

const oracleMissing = fakexenAvailable();
if (oracleMissing) console.warn(`skipping the comparison with real xl: ${oracleMissing}`);

describe.skipIf(oracleMissing !== undefined)('the same specifications as real xl -N (fakexen)', () => {
  const fx = useFakexen({ name: 'cli-xlspec' });

  async function compare(kind: 'disk' | 'vif', words: string[]): Promise<void> {
    const command = kind === 'disk' ? 'block-attach' : 'network-attach';
    const xl = await fx.current.xl('-N', command, '0', ...words);
    let ours: string | Error;
    try {
      const device = kind === 'disk' ? parseDiskSpec(words) : parseVifSpec(words);
      ours = `${kind}: ${JSON.stringify(device, null, 4)}\n\n`;
    } catch (error) {
      ours = error as Error;
    }
    if (xl.code === 0) {
      expect(ours, `xl accepted ${JSON.stringify(words)}: ${xl.stdout}`).toBe(xl.stdout);
    } else {
      expect(ours, `xl refused ${JSON.stringify(words)}: ${xl.stderr}`).toBeInstanceOf(SpecError);
    }
  }

  it(`agrees on ${DISK_SPECS.length} disk specifications`, async () => {
    for (const words of DISK_SPECS) await compare('disk', words);
  });

  it(`agrees on ${VIF_SPECS.length} vif specifications`, async () => {
    for (const words of VIF_SPECS) await compare('vif', words);
  });

  it.each(Object.entries(ITEM_SPECS))('agrees on the %s specifications (the stored entry, as --json prints it)', async (noun, specs) => {
    const kind = deviceType(noun);
    for (const words of specs) {
      const xl = await fx.current.xl('-N', `${noun}-attach`, '0', ...words);
      let ours: string | Error;
      try {
        ours = `${noun}: ${formatStruct(kind.schema, parseStruct(kind.schema, JSON.stringify(ITEM_PARSERS[noun as keyof typeof ITEM_PARSERS](words))))}\n`;
      } catch (error) {
        ours = error as Error;
      }
      if (xl.code === 0) expect(ours, `xl accepted ${JSON.stringify(words)}: ${xl.stdout}`).toBe(xl.stdout);
      else expect(ours, `xl refused ${JSON.stringify(words)}: ${xl.stderr}`).toBeInstanceOf(SpecError);
    }
  });
});
