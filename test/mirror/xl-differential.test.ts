// The mirror against the real xl/libxl 4.17 (../shared/fakexen): random steps
// of xl (create, destroy, block/network attach and detach, mem-set,
// vcpu-set, rename), xen-domconfig's own hotplug and template writes, and
// direct damage to xenstore nodes and templates. At random quiet points the
// mirror prints what a fresh list -l prints, byte for byte, and the events
// replayed from the first snapshot give the same state. Steps:
// XEN_DOMCONFIG_MIRROR_STEPS (default 100; 1000 or more for a full run), from
// XEN_DOMCONFIG_MIRROR_SEED.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDomainConfig } from '../../lib/config/index.js';
import { XenHost } from '../../lib/host.js';
import type { LongListEntry } from '../../lib/domain/list.js';
import { applyChanges, type ConfigMirror, type MirrorEvent } from '../../lib/mirror/index.js';
import { fakexenAvailable, useFakexen } from '../harness/fakexen.js';
import { described, untilEqual } from './helpers.js';

const unavailable = fakexenAvailable();
if (unavailable) console.warn(`skipping the mirror's differential test: ${unavailable}`);

const STEPS = Number(process.env.XEN_DOMCONFIG_MIRROR_STEPS ?? 100);
const SEED = Number(process.env.XEN_DOMCONFIG_MIRROR_SEED ?? 20261202);
const MAX_DOMAINS = 6;

/** mulberry32: a small seeded generator, so a failing run can be repeated with its seed. */
function generator(seed: number) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (n: number) => Math.floor(next() * n), pick: <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]! };
}

/** JSON with each object's keys sorted: a replayed object may have gained its keys in another order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'bigint') return `${item}`;
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item;
    return Object.fromEntries(Object.keys(item).sort().map((key) => [key, (item as Record<string, unknown>)[key]]));
  });
}

/** An entry as comparable text: its libxl-json and device report, or its failure's code. */
function view(entry: Pick<LongListEntry, 'domid'> & ({ config: never; devices: never } | object)): string {
  if ('error' in entry) return `${entry.domid} error ${(entry.error as { code?: string }).code}`;
  const { domid, config, devices } = entry as { domid: number; config: Parameters<typeof formatDomainConfig>[0]; devices: unknown };
  return `${domid} ${formatDomainConfig(config)}${canonical(devices)}`;
}

type Replayed = Map<number, LongListEntry>;

function replay(state: Replayed, event: MirrorEvent): void {
  switch (event.type) {
    case 'added':
      state.set(event.domid, event.entry);
      break;
    case 'changed': {
      const before = state.get(event.domid);
      if (!before || 'error' in before) throw new Error(`changed event for domain ${event.domid} without a configuration before it`);
      state.set(event.domid, applyChanges(before, event.changes));
      break;
    }
    case 'error':
      state.set(event.domid, { domid: event.domid, error: event.error });
      break;
    case 'removed':
      state.delete(event.domid);
      break;
    default:
      break;
  }
}

describe.skipIf(unavailable !== undefined)(`mirror differential against real xl (${STEPS} steps, seed ${SEED})`, () => {
  const fx = useFakexen({ name: 'mirror-diff' });
  let host: XenHost;
  let mirror: ConfigMirror;

  beforeAll(async () => {
    host = XenHost.open({ xenstorePath: fx.current.env.XENSTORED_PATH, userdataDir: fx.current.env.FAKEXEN_USERDATA_DIR, runHotplugScripts: false });
    mirror = host.mirror();
    await mirror.ready;
  }, 120_000);
  afterAll(async () => {
    await mirror?.close();
    await host?.close();
  });

  it('random steps: the mirror equals a fresh list -l at quiet points, and its events replay to the same state', async () => {
    const random = generator(SEED);
    const env = fx.current.env;
    const xl = (...args: string[]) => fx.current.xl(...args);
    const store = host.xenstore;
    // Events from the same moment as the snapshot: the snapshot plus the events is the state.
    const replayed: Replayed = new Map(mirror.list().map((entry) => [entry.domid, entry]));
    const events = mirror.events();
    let consumed = 0;
    const consumer = (async () => {
      for await (const event of events) {
        replay(replayed, event);
        consumed++;
      }
    })();

    const names = new Map<number, string>();
    let created = 0;
    const domains = () => [...names.keys()];
    const someDomain = () => random.pick(domains());
    const goodTemplates = new Map<number, Buffer>();
    const counts = new Map<string, number>();

    const steps: Record<string, { weight: number; when?: () => boolean; run: () => Promise<unknown> }> = {
      create: {
        weight: 3,
        when: () => names.size < MAX_DOMAINS,
        run: async () => {
          const name = `m${created++}`;
          const cfg = join(env.FAKEXEN_RUN, `${name}.cfg`);
          writeFileSync(cfg, [
            `name = "${name}"`, `type = "${random.pick(['pv', 'pvh'])}"`, `memory = ${128 + 64 * random.int(4)}`, 'maxmem = 512',
            `vcpus = ${1 + random.int(2)}`, 'maxvcpus = 3', 'kernel = "/usr/lib/fakexen/mini-pv.elf"',
            "disk = ['phy:/dev/vg/guest,xvda,w']", `vif = ['mac=00:16:3e:00:01:${(created % 256).toString(16).padStart(2, '0')},bridge=xenbr0']`,
          ].join('\n'));
          const result = await xl('create', '-e', cfg);
          if (result.code !== 0) return result;
          const domid = Number((await xl('domid', name)).stdout.trim());
          names.set(domid, name);
          return result;
        },
      },
      destroy: {
        weight: 1,
        when: () => names.size > 1,
        run: async () => {
          const domid = someDomain();
          const result = await xl('destroy', String(domid));
          if (result.code === 0) names.delete(domid);
          return result;
        },
      },
      blockAttach: { weight: 2, when: () => names.size > 0, run: () => xl('block-attach', String(someDomain()), `phy:/dev/vg/${random.pick(['data', 'scratch', 'disk0'])},${random.pick(['xvdb', 'xvdc', 'xvdd'])},w`) },
      blockDetach: { weight: 2, when: () => names.size > 0, run: () => xl('block-detach', String(someDomain()), random.pick(['xvdb', 'xvdc', 'xvdd'])) },
      networkAttach: { weight: 2, when: () => names.size > 0, run: () => xl('network-attach', String(someDomain()), `bridge=xenbr${random.int(2)}`) },
      networkDetach: { weight: 1, when: () => names.size > 0, run: () => xl('network-detach', String(someDomain()), String(1 + random.int(2))) },
      memSet: { weight: 2, when: () => names.size > 0, run: () => xl('mem-set', String(someDomain()), `${96 + 16 * random.int(8)}m`) },
      vcpuSet: { weight: 2, when: () => names.size > 0, run: () => xl('vcpu-set', String(someDomain()), String(1 + random.int(3))) },
      rename: {
        weight: 1,
        when: () => names.size > 0,
        run: async () => {
          const domid = someDomain();
          const name = `${names.get(domid)!.replace(/-r\d+$/, '')}-r${random.int(100)}`;
          const result = await xl('rename', String(domid), name);
          if (result.code === 0) names.set(domid, name);
          return result;
        },
      },
      ownDiskAttach: {
        weight: 1,
        when: () => names.size > 0,
        run: () => host.addDevice(someDomain(), 'disk', { vdev: random.pick(['xvde', 'xvdf']), pdev_path: '/dev/vg/disk1', backend: 'phy', format: 'raw', readwrite: 1 }).catch((error: Error) => error),
      },
      ownDiskDetach: {
        weight: 1,
        when: () => names.size > 0,
        run: () => host.removeDevice(someDomain(), 'disk', random.pick(['xvde', 'xvdf']), { force: true }).catch((error: Error) => error),
      },
      damageXenstore: {
        weight: 2,
        when: () => names.size > 0,
        run: async () => {
          const domid = someDomain();
          const damage = random.pick([
            () => store.write(`/local/domain/${domid}/memory/target`, random.pick(['garbage', '', '-1', '99999999999999999999999'])),
            () => store.write(`/local/domain/${domid}/memory/target`, String(65536 * (1 + random.int(4)))),
            () => store.rm(`/local/domain/${domid}/cpu/${random.int(3)}/availability`),
            () => store.write(`/libxl/${domid}/device/vbd/${51712 + 16 * random.int(4)}/backend`, random.pick(['bogus', `/local/domain/0/backend/vbd/${domid + 1}/51712`])),
            () => store.rm(`/libxl/${domid}/device/vif/${random.int(3)}`),
            () => store.rm(`/local/domain/${domid}/name`),
            () => store.write(`/local/domain/${domid}/name`, names.get(domid)!),
            () => store.write(`/local/domain/0/backend/pci/${domid}/0/num_devs`, random.pick(['0', '1', 'x'])),
          ]);
          await damage();
        },
      },
      damageTemplate: {
        weight: 2,
        when: () => names.size > 0,
        run: async () => {
          const domid = someDomain();
          const uuid = (await store.read(`/local/domain/${domid}/vm`))?.slice(4);
          if (!uuid) return;
          const path = host.templates.paths(domid, uuid).data;
          const saved = goodTemplates.get(domid);
          if (saved && random.next() < 0.5) {
            writeFileSync(path, saved); // repaired
            goodTemplates.delete(domid);
            return;
          }
          let current: Buffer;
          try {
            current = readFileSync(path);
          } catch {
            return;
          }
          if (!saved) goodTemplates.set(domid, current);
          writeFileSync(path, random.pick([Buffer.from('{ "c_info": '), Buffer.alloc(0), current.subarray(0, current.length >> 1)]));
        },
      },
    };

    const quietPoint = async (step: number) => {
      const fresh = await untilEqual(mirror, host);
      // The consumer takes events as they come; once it has all of them the replay is the mirror.
      for (let attempt = 0; ; attempt++) {
        const ours = [...replayed.values()].sort((a, b) => a.domid - b.domid).map(view).join('\n');
        const mirrored = mirror.list().map(view).join('\n');
        if (ours === mirrored) break;
        if (attempt > 2000) expect(ours, `replayed events after step ${step}`).toBe(mirrored);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      expect(described(mirror.list())).toBe(fresh);
    };

    for (let step = 0; step < STEPS; step++) {
      const candidates = Object.entries(steps).filter(([, s]) => s.when?.() ?? true);
      const total = candidates.reduce((sum, [, s]) => sum + s.weight, 0);
      let roll = random.next() * total;
      const [name, chosen] = candidates.find(([, s]) => (roll -= s.weight) < 0) ?? candidates[0]!;
      counts.set(name, (counts.get(name) ?? 0) + 1);
      await chosen.run();
      if (random.next() < 0.1 || step === STEPS - 1) await quietPoint(step);
    }
    await mirror.close();
    await consumer;
    expect(consumed).toBeGreaterThan(STEPS / 4);
    console.log(`mirror differential: ${STEPS} steps (${[...counts].map(([k, v]) => `${k} ${v}`).join(', ')}), ${consumed} events`);
  }, Math.max(300_000, STEPS * 2_000));
});
