// Hotplug benchmark: attach+detach cycles per second of a disk and of a vkb on
// one PV domain made by real `xl create` in ../shared/fakexen, by the library
// (addDevice + removeDevice in-process), by the CLI as a process
// (block-attach/-detach, vkb-attach/-detach) and by the real xl verbs on the
// same domain in the same run. The kit's fake backend answers the backend
// handshakes for all three.
//
//   npm run bench:hotplug                 200 library cycles, 40 of each process
//   npm run bench:hotplug -- --quick      50 and 10: xl's 10 cycles vary by ±10%
//   options: --cycles N (library; the processes run N/5)  --out DIR
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { deviceType } from '../lib/devices/index.js';
import { XenHost } from '../lib/host.js';
import { packageRoot } from '../lib/util/package-root.js';
import { XenStore } from '../lib/xenstore/index.js';
import { checkCommandBuilt, COMMAND, NODE_PROCESS_ENV } from './command.js';

const { values: options } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    cycles: { type: 'string' },
    out: { type: 'string' },
  },
});

const ROOT = packageRoot();
const KIT = join(ROOT, '..', 'shared', 'fakexen');
const WORK = process.env.FAKEXEN_WORK ?? '/tmp/fx-bench';
const RUN = join(WORK, `run-bench-hotplug-${process.pid}`);
const OUT = options.out ?? join(ROOT, 'bench/results');
const LIBRARY_CYCLES = Number(options.cycles ?? (options.quick ? 50 : 200));
const PROCESS_CYCLES = Math.max(2, Math.round(LIBRARY_CYCLES / 5));

interface Cycle {
  /** The device, as the library takes it. */
  device: Record<string, unknown>;
  /** Its identity for removeDevice, given the devid the add chose. */
  identity(devid: number): string | number;
  /** The CLI's and xl's attach arguments after the domain, and the detach argument. */
  attachArgs: string[];
  detachArg: string;
  noun: string;
}

const CYCLES: Record<'disk' | 'vkb', Cycle> = {
  disk: {
    device: { pdev_path: '/dev/vg/data', vdev: 'xvdb', backend: 'phy', format: 'raw', readwrite: 1 },
    identity: () => 'xvdb',
    // backendtype=phy: the block device exists only inside the kit's path remap, where libxl stat()s it.
    attachArgs: ['backendtype=phy,format=raw,vdev=xvdb,access=rw,target=/dev/vg/data'],
    detachArg: 'xvdb',
    noun: 'block',
  },
  vkb: {
    device: { backend_type: 'linux', unique_id: 'K0' },
    identity: (devid) => devid,
    attachArgs: ['backend-type=linux', 'unique-id=K0'],
    detachArg: '0',
    noun: 'vkb',
  },
};

function kit(args: string[]): string {
  const env = { ...process.env, FAKEXEN_WORK: WORK, FAKEXEN_RUN: RUN };
  const result = spawnSync('bash', [join(KIT, 'fakexen.sh'), ...args], { env, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`fakexen.sh ${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
  return result.stdout;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): void {
  const result = spawnSync(command, args, { encoding: 'utf8', env: { ...env, FAKEXEN_WORK: WORK, FAKEXEN_RUN: RUN } });
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')}: ${(result.stderr || result.stdout).trim()}`);
}

/**
 * The library's untimed warm-up cycles: a toolstack's process runs for long, so its
 * steady state is what counts, not V8's first compiles (a process per verb has none).
 */
const LIBRARY_WARM_UP = 10;

/** Cycles per second of `cycles` rounds of `once`, after `warmUp` untimed ones. */
async function rate(cycles: number, once: () => Promise<void> | void, warmUp = 1): Promise<number> {
  for (let i = 0; i < warmUp; i++) await once();
  const start = process.hrtime.bigint();
  for (let i = 0; i < cycles; i++) await once();
  return cycles / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function main(): Promise<void> {
  if (!existsSync(join(KIT, 'fakexen.sh'))) throw new Error(`no fakexen kit at ${KIT}: the real xl is needed`);
  checkCommandBuilt();
  mkdirSync(WORK, { recursive: true });
  run('bash', [join(KIT, 'setup.sh')]);
  rmSync(RUN, { recursive: true, force: true });
  kit(['start']);
  try {
    const env = Object.fromEntries(kit(['env']).split('\n').flatMap((line) => {
      const match = /^export ([A-Z_0-9]+)=(.*)$/.exec(line);
      return match ? [[match[1]!, match[2]!.replace(/\\(.)/g, '$1')]] : [];
    }));
    const socket = env.XENSTORED_PATH!;
    const userdata = env.FAKEXEN_USERDATA_DIR!;
    const cfg = join(RUN, 'bench.cfg');
    writeFileSync(cfg, ['name = "bench"', 'type = "pv"', 'memory = 128', 'vcpus = 1', 'kernel = "/usr/lib/fakexen/mini-pv.elf"'].join('\n'));
    kit(['xl', 'create', cfg]);
    const domid = kit(['xl', 'domid', 'bench']).trim();

    const xenstore = XenStore.open({ path: socket });
    const host = new XenHost({ xenstore, userdataDir: userdata, runHotplugScripts: false });
    const cli = (args: string[]) => run(COMMAND, ['--xenstore', socket, '--userdata-dir', userdata, '--no-hotplug-scripts', '-q', ...args], NODE_PROCESS_ENV);
    const results: Record<string, { library: number; cli: number; xl: number }> = {};
    try {
      for (const [kind, cycle] of Object.entries(CYCLES)) {
        const library = await rate(LIBRARY_CYCLES, async () => {
          const added = await host.addDevice(Number(domid), deviceType(kind), cycle.device);
          await host.removeDevice(Number(domid), deviceType(kind), cycle.identity(added.devid), { force: kind === 'disk' ? 'never' : false });
        }, LIBRARY_WARM_UP);
        const viaCli = await rate(PROCESS_CYCLES, () => {
          cli([`${cycle.noun}-attach`, domid, ...cycle.attachArgs]);
          cli([`${cycle.noun}-detach`, domid, cycle.detachArg]);
        });
        const xl = await rate(PROCESS_CYCLES, () => {
          kit(['xl', `${cycle.noun}-attach`, domid, ...cycle.attachArgs]);
          kit(['xl', `${cycle.noun}-detach`, domid, cycle.detachArg]);
        });
        results[kind] = { library, cli: viaCli, xl };
        console.log(`${kind.padEnd(5)} attach+detach cycles/s: library ${library.toFixed(1)} (${(library / xl).toFixed(1)}× xl), `
          + `CLI ${viaCli.toFixed(1)} (${(viaCli / xl).toFixed(1)}× xl), xl ${xl.toFixed(1)}`);
      }
    } finally {
      await host.close();
      await xenstore.close();
    }
    const target = Object.entries(results).map(([kind, r]) => `${kind}: library ${r.library / r.xl >= 10 ? 'PASS' : 'MISS'} (target ≥ 10× xl)`);
    console.log(target.join('; '));
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'hotplug.json'), `${JSON.stringify({ libraryCycles: LIBRARY_CYCLES, processCycles: PROCESS_CYCLES, cyclesPerSecond: results }, null, 2)}\n`);
  } finally {
    kit(['stop']);
    rmSync(RUN, { recursive: true, force: true });
  }
}

await main();
