// A hotplug client process for the crash and concurrency tests: runs a
// random sequence of addDevice / removeDevice on one domain, spread evenly
// over every kind the library hotplugs (usb devices where a sysfs root is given).
//   node --import ./ts-register.mjs worker.ts <socket> <userdataDir> <domid> <seed> <operations> [sysfsRoot]
// Prints one line per operation ("add disk xvdb", "remove nic 3", "skip …"),
// each after a "begin add disk" line (what a kill interrupted)
// and "done" at the end; a negative count instead stores the domain's
// template again, renamed "stored" (the create-time save). XEN_DOMCONFIG_FAULT kills it at a named point.
import { deviceType, type DeviceKindName } from '../../../lib/devices/index.js';
import { XenHost } from '../../../lib/host.js';
import { HotplugError } from '../../../lib/domain/hotplug.js';
import { XenStore } from '../../../lib/xenstore/index.js';

const [socketPath, userdataDir, domidText, seedText, countText, sysfsRoot] = process.argv.slice(2);
const domid = Number(domidText);
const operations = Number(countText);
const DISKS = ['xvdb', 'xvdc', 'xvdd', 'xvde'];
/** The usb devices of the test's sysfs stand-in (bus 1, addresses 2 to 7). */
const USB_ADDRESSES = [2, 3, 4, 5, 6, 7];

/**
 * Every kind the library hotplugs: how to add one, and where the live ones
 * are listed (their identities). A run with a sysfs root (the local rig) uses
 * them all; one on xl's domain only those real xl can detach afterwards (no
 * vfb: xl has no verb; no usbdev: xl needs a host usb device).
 */
interface WorkerKind {
  kind: DeviceKindName;
  add(): Promise<string>;
  live(): Promise<Array<string | number>>;
  xlDetachable: boolean;
}
const KINDS: WorkerKind[] = [
  {
    kind: 'disk',
    add: async () => {
      const vdev = pick(DISKS);
      await host.addDevice(domid, 'disk', { vdev, pdev_path: `/dev/vg/disk${DISKS.indexOf(vdev)}`, backend: 'phy', format: 'raw', readwrite: 1 }, { timeoutMs: 5000 });
      return vdev;
    },
    live: () => devids('vbd'),
    xlDetachable: true,
  },
  devidKind('nic', 'vif', { bridge: 'xenbr0' }, true),
  devidKind('vtpm', 'vtpm', {}, true),
  devidKind('vkb', 'vkbd', { backend_type: 'linux', unique_id: 'K' }, true),
  devidKind('vfb', 'vfb', {}, false),
  devidKind('vdispl', 'vdispl', { connectors: [{ unique_id: 'c0', width: 640, height: 480 }] }, true),
  devidKind('vsnd', 'vsnd', { short_name: 'S', pcms: [{ name: 'p0', streams: [{ unique_id: 's0', type: 'p' }] }] }, true),
  devidKind('usbctrl', 'vusb', { type: 'pv', ports: 2 }, true),
  {
    kind: 'usbdev',
    add: async () => {
      const added = await host.addDevice(domid, 'usbdev', { type: 'hostdev', u: { hostbus: 1, hostaddr: pick(USB_ADDRESSES) } }, { timeoutMs: 5000 });
      return added.entry.ctrl + ':' + String(added.entry.port);
    },
    // The ports of dom0-backed PV controllers holding a busid.
    live: async () => {
      const tree = await xenstore.readTree(`/local/domain/0/backend/vusb/${domid}`);
      return (tree?.children ?? []).flatMap((ctrl) => (ctrl.children.find((c) => c.name === 'port')?.children ?? []).filter((port) => port.value !== '').map((port) => `${ctrl.name}:${port.name}`));
    },
    xlDetachable: false,
  },
];
const kinds = KINDS.filter((entry) => sysfsRoot !== undefined || entry.xlDetachable);

function devidKind(kind: DeviceKindName, dir: string, device: Record<string, unknown>, xlDetachable: boolean): WorkerKind {
  return { kind, add: async () => String((await host.addDevice(domid, deviceType(kind), device, { timeoutMs: 5000 })).devid), live: () => devids(dir), xlDetachable };
}

// mulberry32: a small seeded generator, so a failing trial can be replayed.
let seed = Number(seedText) >>> 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;

const xenstore = XenStore.open({ path: socketPath! });
// A fake backend plays the scripts' part.
const host = new XenHost({ xenstore, userdataDir: userdataDir!, runHotplugScripts: false, ...(sysfsRoot ? { sysfsRoot } : {}) });
const say = (line: string) => process.stdout.write(`${line}\n`);

async function closedMeanwhile(backendPath: string): Promise<boolean> {
  const state = await xenstore.read(`${backendPath}/state`);
  return state === undefined || Number(state) >= 5;
}

async function devids(dir: string): Promise<number[]> {
  return ((await xenstore.list(`/libxl/${domid}/device/${dir}`)) ?? []).map(Number);
}

/** One operation: a kind picked evenly among them all, then an add or a remove of one of its live devices. */
async function step(): Promise<void> {
  const { kind, add, live } = pick(kinds);
  if (random() < 0.5) {
    say(`begin add ${kind}`);
    say(`add ${kind} ${await add()}`);
    return;
  }
  const identities = await live();
  if (identities.length === 0) {
    say(`skip remove ${kind}`);
    return;
  }
  const identity = pick(identities);
  say(`begin remove ${kind}`);
  await host.removeDevice(domid, kind, identity, { timeoutMs: 5000, pruneTemplate: random() < 0.3 });
  say(`remove ${kind} ${identity}`);
}

try {
  if (operations < 0) {
    // The create-time save of the domain's own template, renamed "stored".
    const config = await host.templates.read(domid);
    config.c_info.name = 'stored';
    await host.storeDomainConfiguration(domid, config);
  }
  for (let i = 0; i < operations; i++) {
    try {
      await step();
    } catch (error) {
      // Races with other clients: the device appeared or went in between.
      // (EBUSY: the usb device or port another client took; EINVAL: a controller whose usb device another client attached.)
      if (error instanceof HotplugError && (['EEXIST', 'ENODEV', 'EBUSY'].includes(error.code) || (error.code === 'EINVAL' && /remove them first/.test(error.message)))) {
        say(`skip ${error.code}`);
        continue;
      }
      // Added, then unplugged by another client before its backend reached InitWait.
      if (error instanceof HotplugError && error.code === 'EHOTPLUG' && error.details.device && await closedMeanwhile(error.details.device.backendPath)) {
        say('skip EHOTPLUG');
        continue;
      }
      throw error;
    }
  }
  say('done');
} catch (error) {
  const fields = JSON.stringify(error, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value));
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n${fields}\n`);
  process.exitCode = 1;
} finally {
  await host.close();
  await xenstore.close();
}
