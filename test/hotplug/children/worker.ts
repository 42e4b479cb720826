// A hotplug client process for the crash and concurrency tests: runs a
// random sequence of addDevice / removeDevice on one domain, over every kind
// it can hotplug (disks and nics most often).
//   node --import ./ts-register.mjs worker.ts <socket> <userdataDir> <domid> <seed> <operations>
// Prints one line per operation ("add disk xvdb", "remove nic 3", "skip …")
// and "done" at the end; a negative count instead stores the domain's
// template again, renamed "stored" (the create-time save). XEN_DOMCONFIG_FAULT kills it at a named point.
import { deviceType } from '../../../lib/devices/index.js';
import { XenHost } from '../../../lib/domain/host.js';
import { HotplugError } from '../../../lib/domain/hotplug.js';
import { XenStore } from '../../../lib/xenstore/index.js';

const [socketPath, userdataDir, domidText, seedText, countText] = process.argv.slice(2);
const domid = Number(domidText);
const operations = Number(countText);
const DISKS = ['xvdb', 'xvdc', 'xvdd', 'xvde'];
/** The other hotplugged kinds: a device of each, and its dir under /libxl/<domid>/device. */
const OTHERS = [
  { kind: 'vtpm', dir: 'vtpm', device: {} },
  { kind: 'vkb', dir: 'vkbd', device: { backend_type: 'linux', unique_id: 'K' } },
  { kind: 'vdispl', dir: 'vdispl', device: { connectors: [{ unique_id: 'c0', width: 640, height: 480 }] } },
  { kind: 'vsnd', dir: 'vsnd', device: { short_name: 'S', pcms: [{ name: 'p0', streams: [{ unique_id: 's0', type: 'p' }] }] } },
  { kind: 'usbctrl', dir: 'vusb', device: { type: 'pv', ports: 2 } },
] as const;

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
const host = new XenHost({ xenstore, userdataDir: userdataDir!, runHotplugScripts: false }); // a fake backend plays the scripts' part
const say = (line: string) => process.stdout.write(`${line}\n`);

async function closedMeanwhile(backendPath: string): Promise<boolean> {
  const state = await xenstore.read(`${backendPath}/state`);
  return state === undefined || Number(state) >= 5;
}

async function existing(kind: string): Promise<string[]> {
  return (await xenstore.list(`/libxl/${domid}/device/${kind}`)) ?? [];
}

async function step(): Promise<void> {
  const choice = random();
  if (choice >= 0.8) {
    const other = pick(OTHERS);
    if (random() < 0.5) {
      const added = await host.addDevice(domid, deviceType(other.kind), other.device, { timeoutMs: 5000 });
      say(`add ${other.kind} ${added.devid}`);
      return;
    }
    const devids = await existing(other.dir);
    if (devids.length === 0) {
      say(`skip remove ${other.kind}`);
      return;
    }
    const devid = Number(pick(devids));
    await host.removeDevice(domid, other.kind, devid, { timeoutMs: 5000, pruneTemplate: random() < 0.3 });
    say(`remove ${other.kind} ${devid}`);
  } else if (choice < 0.25) {
    const vdev = pick(DISKS);
    await host.addDevice(domid, 'disk', { vdev, pdev_path: `/dev/vg/disk${DISKS.indexOf(vdev)}`, backend: 'phy', format: 'raw', readwrite: 1 }, { timeoutMs: 5000 });
    say(`add disk ${vdev}`);
  } else if (choice < 0.45) {
    const added = await host.addDevice(domid, 'nic', { bridge: 'xenbr0' }, { timeoutMs: 5000 });
    say(`add nic ${added.devid}`);
  } else if (choice < 0.65) {
    const disks = await existing('vbd');
    if (disks.length === 0) {
      say('skip remove disk');
      return;
    }
    const devid = Number(pick(disks));
    await host.removeDevice(domid, 'disk', devid, { timeoutMs: 5000, pruneTemplate: random() < 0.3 });
    say(`remove disk ${devid}`);
  } else {
    const nics = await existing('vif');
    if (nics.length === 0) {
      say('skip remove nic');
      return;
    }
    const devid = Number(pick(nics));
    await host.removeDevice(domid, 'nic', devid, { timeoutMs: 5000, pruneTemplate: random() < 0.3 });
    say(`remove nic ${devid}`);
  }
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
      if (error instanceof HotplugError && (error.code === 'EEXIST' || error.code === 'ENODEV')) {
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
