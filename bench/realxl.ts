// The real xl/libxl 4.17 of ../shared/fakexen, run on the benchmark's own
// xenstored and userdata dir: the kit's LD_PRELOAD shim fakes the hypervisor
// (its domain table lists the populated domains), and its path remap points
// libxl's /var/lib/xen at our userdata dir.
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../lib/util/package-root.js';
import { BENCH_SHAPE, benchUuid, DOM0 } from './populate.js';

export interface RealXl {
  kit: string;
  work: string;
  xl: string;
  shim: string;
}

/** The kit, set up in FAKEXEN_WORK (default /tmp/fx-bench), or undefined with the reason it is absent. */
export function findRealXl(): RealXl | { missing: string } {
  const kit = join(packageRoot(), '..', 'shared', 'fakexen');
  if (!existsSync(join(kit, 'setup.sh'))) return { missing: `no fakexen kit at ${kit}` };
  const work = process.env.FAKEXEN_WORK ?? '/tmp/fx-bench';
  const setup = spawnSync('bash', [join(kit, 'setup.sh')], { env: { ...process.env, FAKEXEN_WORK: work }, encoding: 'utf8' });
  if (setup.status !== 0) return { missing: `fakexen setup.sh failed: ${(setup.stderr || setup.stdout).trim().split('\n').pop()}` };
  const xl = join(work, 'root/usr/lib/xen-4.17/bin/xl');
  const shim = join(work, 'build/libxenshim.so');
  if (!existsSync(xl) || !existsSync(shim)) return { missing: `fakexen set-up in ${work} has no xl or shim` };
  return { kit, work, xl, shim };
}

export interface XlState {
  socketPath: string;
  userdataDir: string;
  /** Private folder for the fake hypervisor's domain table and libxl's run dir. */
  runDir: string;
}

/** The fake hypervisor's domain table: "domid flags memkb maxmemkb vcpus uuid" (flags 0x20 = running). */
export function writeDomainTable(state: XlState, domains: readonly { domid: number; memKb: number; vcpus: number; uuid: string }[]): void {
  mkdirSync(state.runDir, { recursive: true });
  const lines = domains.map((d) => `${d.domid} 20 ${d.memKb} ${d.memKb} ${d.vcpus} ${d.uuid}\n`);
  writeFileSync(join(state.runDir, 'hvstate'), lines.join(''));
}

export function xlEnv(real: RealXl, state: XlState): NodeJS.ProcessEnv {
  const run = join(state.runDir, 'varrunxen');
  mkdirSync(run, { recursive: true });
  const remap = [
    `/var/lib/xen=${state.userdataDir}`,
    `/var/run/xen=${run}`,
    `/run/xen=${run}`,
    `/var/log/xen=${run}`,
    `/etc/xen=${join(real.work, 'root/etc/xen')}`,
    `/usr/lib/xen-4.17=${join(real.work, 'root/usr/lib/xen-4.17')}`,
  ].join(';');
  return {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    LD_PRELOAD: real.shim,
    XENSTORED_PATH: state.socketPath,
    XSHIM_STATE: join(state.runDir, 'hvstate'),
    XSHIM_REMAP: remap,
  };
}

/** Runs `xl ARGS` synchronously; throws with xl's stderr on failure. */
export function runXl(real: RealXl, env: NodeJS.ProcessEnv, args: string[]): string {
  return execFileSync(real.xl, args, { env, encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
}

/**
 * xl's view of the bench's domains: the same xenstored, and its own copy of the templates
 * (in runDir), so each tool leaves the domain-userdata lock files as it does on a host of its
 * own (xl removes them at every release, a list of ours keeps them for the next) and neither
 * pays for the other's; the fake hypervisor's table names dom0 and `domids`.
 */
export function benchXlState(socketPath: string, templatesDir: string, domids: readonly number[], runDir: string): XlState {
  const userdataDir = join(runDir, 'userdata');
  rmSync(userdataDir, { recursive: true, force: true });
  mkdirSync(userdataDir, { recursive: true });
  for (const name of readdirSync(templatesDir)) {
    if (name.startsWith('userdata-d.')) copyFileSync(join(templatesDir, name), join(userdataDir, name));
  }
  const state = { socketPath, userdataDir, runDir };
  writeDomainTable(state, [
    { domid: 0, memKb: DOM0.maxMemKb, vcpus: DOM0.maxVcpus, uuid: DOM0.uuid },
    ...domids.map((domid) => ({ domid, memKb: BENCH_SHAPE.memoryMiB * 1024, vcpus: BENCH_SHAPE.maxVcpus, uuid: benchUuid(domid) })),
  ]);
  return state;
}
