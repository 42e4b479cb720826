// Crash safety: worker processes doing random hotplug and unplug are killed
// at every named fault point and at random moments; after each kill the
// invariant must hold (template parses, every xenstore device has a template
// entry, retrieve succeeds), and the next worker carries on from that state.
// XEN_DOMCONFIG_CRASH_TRIALS sets the number of trials (default 30; the full
// run is 1000). Every named point is hit: the first round over the points
// kills at each one's first occurrence, later rounds at later ones.
// With ../shared/fakexen present the same runs on a domain made by real
// `xl create`; after every kill real `xl list -l` must read the domain, and
// at the end real xl's detach verbs must remove every device the workers left
// (disks and nics most often, and every other hotplugged kind).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDomainList } from '../../lib/config/index.js';
import { FAULT_POINTS, type FaultPoint } from '../../lib/domain/faults.js';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { fakexenAvailable, useFakexen } from '../harness/fakexen.js';
import { hotplugKinds } from '../../lib/domain/hotplug.js';
import { createFakeSysfs } from '../harness/fakesysfs.js';
import { checkInvariant, createGuest, kindOfDir, operationsPerKind, removeAll, WORKER_USB_DEVICES, xenstoreDevices } from './guest.js';
import { useHotplugRig } from './rig.js';
import { runWorker, type WorkerArgs } from './worker.js';

const TRIALS = Number(process.env.XEN_DOMCONFIG_CRASH_TRIALS ?? 30);
const HOTPLUG_POINTS: FaultPoint[] = FAULT_POINTS.filter((point) => point.startsWith('add.') || point.startsWith('remove.'));

interface Tally {
  trials: number;
  killedAtPoint: Record<string, number>;
  killedAtRandom: number;
  finished: number;
  /** Operations done (before the kill) per kind: "add usbdev" → n. */
  operations: Record<string, number>;
  /** What each kill interrupted: "add usbdev" → n. */
  killedDuring: Record<string, number>;
}

/** The operation a killed worker had begun and not finished ("add usbdev"), if any. */
function interruptedOperation(stdout: string): string | undefined {
  const lines = stdout.trim().split('\n');
  const last = lines.at(-1) ?? '';
  return last.startsWith('begin ') ? last.slice('begin '.length) : undefined;
}

/** Trials that visit every point once at its first occurrence, with the random kills in between. */
const COVERING_TRIALS = 2 * HOTPLUG_POINTS.length;
/** Trials from which every kind's add and remove is killed at least once (about 20 kills each). */
const KIND_COVERING_TRIALS = 400;
/** Extra trials per point that no trial reached (the random operations may not lead there). */
const MAX_EXTRA_TRIALS = 8;

/**
 * Runs `trials` worker processes on one domain, killing each one, and checks
 * after every one (the invariant, then `afterKill`). Even trials die at a
 * named point, odd ones at a random moment. With at least COVERING_TRIALS,
 * points no trial reached get extra trials until each has been hit.
 */
async function crashTrials(
  host: XenHost,
  args: Omit<WorkerArgs, 'seed' | 'operations'>,
  trials: number,
  seedBase: number,
  afterKill: () => Promise<void> = async () => undefined,
): Promise<Tally> {
  const tally: Tally = { trials, killedAtPoint: {}, killedAtRandom: 0, finished: 0, operations: {}, killedDuring: {} };
  const trial = async (seed: number, point: FaultPoint | undefined, occurrence: number) => {
    const fault = point ? `${point}:${occurrence}` : undefined;
    const run = await runWorker({ ...args, seed, operations: 16 }, {
      ...(fault ? { fault } : { killAfterMs: 150 + ((seed * 7919) % 700) }),
    });
    if (run.code !== null && run.code !== 0) throw new Error(`seed ${seed} (${fault ?? 'random kill'}) failed:\n${run.stderr}`);
    for (const [operation, count] of Object.entries(operationsPerKind([run.stdout]))) tally.operations[operation] = (tally.operations[operation] ?? 0) + count;
    if (run.signal === 'SIGKILL') {
      const interrupted = interruptedOperation(run.stdout);
      if (interrupted) tally.killedDuring[interrupted] = (tally.killedDuring[interrupted] ?? 0) + 1;
      if (point) tally.killedAtPoint[point] = (tally.killedAtPoint[point] ?? 0) + 1;
      else tally.killedAtRandom++;
    } else {
      tally.finished++;
    }
    try {
      await checkInvariant(host, args.domid);
      await afterKill();
    } catch (error) {
      throw new Error(`after seed ${seed} (${fault ?? 'random kill'}; output:\n${run.stdout}): ${(error as Error).message}`);
    }
  };
  for (let n = 0; n < trials; n++) {
    const pointTrial = n >> 1;
    const point = n % 2 === 0 ? HOTPLUG_POINTS[pointTrial % HOTPLUG_POINTS.length] : undefined;
    await trial(seedBase + n, point, 1 + (Math.floor(pointTrial / HOTPLUG_POINTS.length) % 3));
  }
  if (trials >= COVERING_TRIALS) {
    let seed = seedBase + trials;
    for (const point of HOTPLUG_POINTS) {
      for (let extra = 0; !tally.killedAtPoint[point] && extra < MAX_EXTRA_TRIALS; extra++) await trial(seed++, point, 1);
    }
    tally.trials = seed - seedBase;
  }
  return tally;
}

describe('crash safety on the local xenstored', () => {
  const rig = useHotplugRig({ name: 'crash' });

  it(`keeps the invariant across ${TRIALS} killed workers, over every hotplugged kind`, async () => {
    const domid = 5;
    await createGuest(rig.xenstore, rig.host.templates, domid);
    const sysfs = createFakeSysfs(WORKER_USB_DEVICES);
    const host = new XenHost({ xenstore: rig.xenstore, userdataDir: rig.userdataDir, runHotplugScripts: false, sysfsRoot: sysfs.root });
    try {
      const tally = await crashTrials(host, { socketPath: rig.socketPath, userdataDir: rig.userdataDir, domid, sysfsRoot: sysfs.root }, TRIALS, 1000);
      console.log(`crash trials (local): ${JSON.stringify(tally)}`);
      // Most trials really die (a worker can finish before its point or its moment).
      const killed = tally.killedAtRandom + Object.values(tally.killedAtPoint).reduce((a, b) => a + b, 0);
      expect(killed).toBeGreaterThanOrEqual(TRIALS / 2);
      if (TRIALS >= COVERING_TRIALS) expect(Object.keys(tally.killedAtPoint).sort()).toEqual([...HOTPLUG_POINTS].sort());
      // The workers spread their operations over every kind the library hotplugs, and the kills with them
      // (a short run on a loaded machine gets through few operations: a third of the kinds at least).
      const touched = hotplugKinds().filter((kind) => ['add', 'remove'].some((op) => tally.operations[`${op} ${kind}`] || tally.killedDuring[`${op} ${kind}`]));
      expect(touched.length).toBeGreaterThanOrEqual(hotplugKinds().length / 3);
      if (TRIALS >= KIND_COVERING_TRIALS) {
        expect(hotplugKinds().filter((kind) => !tally.operations[`add ${kind}`] || !tally.operations[`remove ${kind}`])).toEqual([]);
        expect(hotplugKinds().filter((kind) => !tally.killedDuring[`add ${kind}`] || !tally.killedDuring[`remove ${kind}`])).toEqual([]);
      }
      // The survivors, of every kind, can still be removed.
      await removeAll(host, domid);
      expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
    } finally {
      sysfs.close();
    }
    expect(rig.backend.errors).toEqual([]);
  }, 3_600_000);

  it('keeps a parsable template when the create-time save is killed', async () => {
    const domid = 6;
    await createGuest(rig.xenstore, rig.host.templates, domid);
    for (const point of ['store.before-write', 'store.after-write']) {
      const child = await runWorker({ socketPath: rig.socketPath, userdataDir: rig.userdataDir, domid, seed: 1, operations: -1 }, { fault: point });
      expect(child.signal, child.stderr).toBe('SIGKILL');
      const template = await rig.host.templates.read(domid);
      expect(template.c_info.name).toBe(point === 'store.after-write' ? 'stored' : `guest${domid}`);
      await checkInvariant(rig.host, domid);
    }
  });
});

const noFakexen = fakexenAvailable();
describe.skipIf(noFakexen !== undefined)(`crash safety with real xl${noFakexen ? ` (skipped: ${noFakexen})` : ''}`, () => {
  const fakexen = useFakexen({ name: 'hotplug-crash' });
  let xenstore: XenStore;
  let host: XenHost;

  beforeAll(async () => {
    xenstore = XenStore.open({ path: fakexen.current.env.XENSTORED_PATH });
    host = new XenHost({ xenstore, userdataDir: fakexen.current.env.FAKEXEN_USERDATA_DIR, runHotplugScripts: false }); // xl's scripts exist only inside fakexen's path remap; its backend moves the states
  });
  afterAll(async () => {
    await host?.close();
    await xenstore?.close();
  });

  it('leaves domains that real xl can list and detach from', async () => {
    const cfg = join(fakexen.current.env.FAKEXEN_RUN, 'crash.cfg');
    writeFileSync(cfg, [
      'name = "crash"', 'type = "pv"', 'memory = 128', 'vcpus = 1',
      'kernel = "/usr/lib/fakexen/mini-pv.elf"', "disk = ['phy:/dev/vg/guest,xvda,w']",
    ].join('\n'));
    const created = await fakexen.current.xl('create', cfg);
    expect(created.code, created.stderr).toBe(0);
    const domid = Number((await fakexen.current.xl('domid', 'crash')).stdout.trim());
    const trials = Math.max(COVERING_TRIALS, Math.round(TRIALS / 3));
    const xlLists = async () => {
      const listed = await fakexen.current.xl('list', '-l', String(domid));
      if (listed.code !== 0) throw new Error(`xl list -l failed: ${listed.stderr}`);
      parseDomainList(listed.stdout);
    };
    const tally = await crashTrials(host, { socketPath: fakexen.current.env.XENSTORED_PATH, userdataDir: fakexen.current.env.FAKEXEN_USERDATA_DIR, domid }, trials, 5000, xlLists);
    console.log(`crash trials (real xl): ${JSON.stringify(tally)}`);
    expect(Object.keys(tally.killedAtPoint).sort()).toEqual([...HOTPLUG_POINTS].sort());

    const listed = await fakexen.current.xl('list', '-l', String(domid));
    expect(listed.code, listed.stderr).toBe(0);
    const [entry] = parseDomainList(listed.stdout);
    const devices = await xenstoreDevices(xenstore, domid);
    const vdevs = await xenstore.readMany(devices.filter((d) => d.startsWith('vbd/')).map((d) => `/libxl/${domid}/device/${d}/dev`));
    expect(entry!.config.disks.map((d) => d.vdev).sort()).toEqual(vdevs.sort());
    expect(entry!.config.nics.map((n) => `vif/${n.devid}`).sort()).toEqual(devices.filter((d) => d.startsWith('vif/')).sort());
    for (const disk of entry!.config.disks) {
      const detached = await fakexen.current.xl('block-detach', String(domid), disk.vdev!);
      expect(detached.code, detached.stderr).toBe(0);
    }
    for (const nic of entry!.config.nics) {
      const detached = await fakexen.current.xl('network-detach', String(domid), String(nic.devid));
      expect(detached.code, detached.stderr).toBe(0);
    }
    // The other kinds the workers added, each with its own xl verb.
    for (const device of await xenstoreDevices(xenstore, domid)) {
      const [dir, devid] = device.split('/');
      if (dir === 'console') continue;
      const type = kindOfDir(dir!);
      const detached = await fakexen.current.xl(`${type.cli?.noun ?? type.name}-detach`, String(domid), devid!);
      expect(detached.code, `${device}: ${detached.stderr}`).toBe(0);
    }
    expect(await xenstoreDevices(xenstore, domid)).toEqual(['console/0']);
    await checkInvariant(host, domid);
    expect((await fakexen.current.xl('destroy', String(domid))).code).toBe(0);
  }, 3_600_000);
});
