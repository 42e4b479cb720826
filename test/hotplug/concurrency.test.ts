// Concurrency: several processes add and remove devices of one domain at
// once (and, with ../shared/fakexen present, real `xl block-attach` /
// `xl block-detach` on the same domain): no template entry of a live device
// is lost, no identity is duplicated, and the invariant holds at the end.
// XEN_DOMCONFIG_CONCURRENCY=<processes>x<operations> (default 4x10; full 8x50).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainList } from '../../lib/config/index.js';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { fakexenAvailable, useFakexen, type FakexenInstance } from '../harness/fakexen.js';
import { hotplugKinds } from '../../lib/domain/hotplug.js';
import { createFakeSysfs } from '../harness/fakesysfs.js';
import { checkInvariant, createGuest, WORKER_USB_DEVICES, xenstoreDevices } from './guest.js';
import { useHotplugRig } from './rig.js';
import { runWorker, type WorkerRun } from './worker.js';

const [PROCESSES, OPERATIONS] = (process.env.XEN_DOMCONFIG_CONCURRENCY ?? '4x10').split('x').map(Number) as [number, number];

async function runConcurrently(socketPath: string, userdataDir: string, domid: number, alongside?: Promise<unknown>, sysfsRoot?: string): Promise<WorkerRun[]> {
  const runs = Promise.all(Array.from({ length: PROCESSES }, (_, k) =>
    runWorker({ socketPath, userdataDir, domid, seed: 7000 + k, operations: OPERATIONS, ...(sysfsRoot === undefined ? {} : { sysfsRoot }) })));
  const [results] = await Promise.all([runs, alongside]);
  for (const run of results) expect(run.code, run.stderr).toBe(0);
  return results;
}

function summary(runs: WorkerRun[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of runs.flatMap((run) => run.stdout.trim().split('\n'))) {
    const word = line.split(' ').slice(0, 2).join(' ');
    counts[word] = (counts[word] ?? 0) + 1;
  }
  return counts;
}

describe('concurrent hotplug on the local xenstored', () => {
  const rig = useHotplugRig({ name: 'concurrency' });

  it(`${PROCESSES} processes × ${OPERATIONS} operations over every hotplugged kind keep one entry per live device`, async () => {
    const domid = 3;
    await createGuest(rig.xenstore, rig.host.templates, domid);
    const sysfs = createFakeSysfs(WORKER_USB_DEVICES);
    let runs: WorkerRun[];
    try {
      runs = await runConcurrently(rig.socketPath, rig.userdataDir, domid, undefined, sysfs.root);
    } finally {
      sysfs.close();
    }
    const counts = summary(runs);
    console.log(`concurrency (local): ${JSON.stringify(counts)}`);
    expect(counts.done).toBe(PROCESSES);
    // Spread over the kinds: at least a third of them were added (4x10 makes ≈ 20 adds over 9 kinds).
    expect(hotplugKinds().filter((kind) => counts[`add ${kind}`]).length).toBeGreaterThanOrEqual(hotplugKinds().length / 3);
    await checkInvariant(rig.host, domid);
    expect(rig.backend.errors).toEqual([]);
  }, 600_000);
});

const noFakexen = fakexenAvailable();
describe.skipIf(noFakexen !== undefined)(`concurrent hotplug with real xl${noFakexen ? ` (skipped: ${noFakexen})` : ''}`, () => {
  const fakexen = useFakexen({ name: 'hotplug-concurrency' });

  /**
   * Attaches and detaches xvdf, which only xl uses, and xvde, which the
   * workers add and remove too, with real xl; returns the exit codes seen.
   */
  async function xlLoop(instance: FakexenInstance, domid: number, rounds: number): Promise<number[]> {
    const codes: number[] = [];
    for (let i = 0; i < rounds; i++) {
      const vdev = i % 2 === 0 ? 'xvdf' : 'xvde';
      const attached = await instance.xl('block-attach', String(domid), `phy:/dev/vg/scratch,${vdev},w`);
      codes.push(attached.code ?? -1);
      const detached = await instance.xl('block-detach', String(domid), vdev);
      codes.push(detached.code ?? -1);
    }
    return codes;
  }

  it('interleaves with real xl block-attach and block-detach on the same domain', async () => {
    const env = fakexen.current.env;
    const cfg = join(env.FAKEXEN_RUN, 'concurrency.cfg');
    writeFileSync(cfg, ['name = "busy"', 'type = "pv"', 'memory = 128', 'vcpus = 1', 'kernel = "/usr/lib/fakexen/mini-pv.elf"'].join('\n'));
    expect((await fakexen.current.xl('create', cfg)).code).toBe(0);
    const domid = Number((await fakexen.current.xl('domid', 'busy')).stdout.trim());
    const xenstore = XenStore.open({ path: env.XENSTORED_PATH });
    const host = new XenHost({ xenstore, userdataDir: env.FAKEXEN_USERDATA_DIR, runHotplugScripts: false }); // xl's scripts exist only inside fakexen's path remap; its backend moves the states
    try {
      const xlCodes = xlLoop(fakexen.current, domid, Math.max(3, Math.round(OPERATIONS / 3)));
      const runs = await runConcurrently(env.XENSTORED_PATH, env.FAKEXEN_USERDATA_DIR, domid, xlCodes);
      const codes = await xlCodes;
      console.log(`concurrency (real xl): ${JSON.stringify(summary(runs))}, xl exit codes ${JSON.stringify(codes)}`);
      // xl may lose a race to a worker (xvde added or removed first): a clean failure, never a crash.
      expect(codes.every((code) => code === 0 || code === 1)).toBe(true);
      expect(codes.filter((code) => code === 0).length).toBeGreaterThan(0);
      await checkInvariant(host, domid);
      const listed = await fakexen.current.xl('list', '-l', String(domid));
      expect(listed.code, listed.stderr).toBe(0);
      const [entry] = parseDomainList(listed.stdout);
      const devices = (await xenstoreDevices(xenstore, domid)).filter((d) => d.startsWith('vbd/') || d.startsWith('vif/'));
      expect(entry!.config.disks.length + entry!.config.nics.length).toBe(devices.length);
    } finally {
      await host.close();
      await xenstore.close();
      await fakexen.current.xl('destroy', String(domid));
    }
  }, 600_000);
});
