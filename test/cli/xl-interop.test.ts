// The command line next to the real xl/libxl 4.17 (../shared/fakexen):
// `list -l` byte for byte against `xl list -l` on domains xl created.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fakexenAvailable, useFakexen } from '../harness/fakexen.js';
import { runCli } from './run.js';

const oracleMissing = fakexenAvailable();
if (oracleMissing) console.warn(`skipping the comparison with real xl: ${oracleMissing}`);

// Paths the kit remaps: a minimal PV/PVH kernel and block devices for phy: disks.
const CONFIGS = {
  'cli-pv': `name = "cli-pv"
type = "pv"
uuid = "c1100000-0000-4000-8000-000000000001"
memory = 256
maxmem = 512
vcpus = 2
maxvcpus = 3
kernel = "/usr/lib/fakexen/mini-pv.elf"
extra = "console=hvc0"
disk = ['phy:/dev/vg/guest,xvda,w', 'phy:/dev/vg/data,xvdb,r']
vif = ['mac=00:16:3e:00:10:01,bridge=xenbr0']
`,
  'cli-pvh': `name = "cli-pvh"
type = "pvh"
uuid = "c1100000-0000-4000-8000-000000000002"
memory = 512
vcpus = 1
kernel = "/usr/lib/fakexen/mini-pv.elf"
disk = ['phy:/dev/vg/disk0,xvda,w']
vif = ['mac=00:16:3e:00:10:02,bridge=xenbr0', 'mac=00:16:3e:00:10:03,bridge=xenbr1,rate=10Mb/s']
`,
};

/**
 * What only the hypervisor knows, which the fake hypervisor makes up and
 * xenstore cannot tell: the scheduler parameters, and dom0's exact balloon
 * target (libxl reads it from the hypervisor for dom0).
 */
function withoutHypervisorValues(text: string): string {
  return text
    .replace(/("sched_params": \{)\n(\s+)"sched": "credit2",\n\s+"weight": 256,\n\s+"cap": 0\n(\s+\})/g, '$1\n\n$3')
    .replace(/("domid": 0,\n\s+"config": \{[^]*?"target_memkb": )\d+/, '$1<dom0>');
}

describe.skipIf(oracleMissing !== undefined)('next to real xl (fakexen)', () => {
  const fx = useFakexen({ name: 'cli-interop' });
  let configDir: string;

  beforeAll(async () => {
    configDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-cli-cfg-'));
    for (const [name, text] of Object.entries(CONFIGS)) {
      const file = join(configDir, `${name}.cfg`);
      writeFileSync(file, text);
      const created = await fx.current.xl('create', file);
      expect(created.code, created.stderr).toBe(0);
    }
  }, 120_000);

  afterAll(() => { if (configDir) rmSync(configDir, { recursive: true, force: true }); });

  const cli = (...args: string[]) =>
    // fakexen's backend moves the states; the scripts under /etc/xen/scripts exist for xl only (remapped).
    runCli(['--xenstore', fx.current.env.XENSTORED_PATH, '--userdata-dir', fx.current.env.FAKEXEN_USERDATA_DIR, '--no-hotplug-scripts', ...args]);

  async function expectSameListing(): Promise<void> {
    const xl = await fx.current.xl('list', '-l');
    expect(xl.code, xl.stderr).toBe(0);
    const ours = await cli('list', '-l');
    expect(ours.code, ours.stderr).toBe(0);
    expect(withoutHypervisorValues(ours.stdout)).toBe(withoutHypervisorValues(xl.stdout));
    expect(ours.stdout).toMatch(/"name": "cli-pvh"/);
  }

  it('list -l matches xl list -l byte for byte (hypervisor-only values aside)', async () => {
    await expectSameListing();
  });

  it('still matches after xl block-attach and network-attach', async () => {
    expect((await fx.current.xl('block-attach', 'cli-pvh', 'phy:/dev/vg/scratch,xvdc,r')).code).toBe(0);
    expect((await fx.current.xl('network-attach', 'cli-pv', 'bridge=xenbr1', 'mac=00:16:3e:00:10:09')).code).toBe(0);
    await expectSameListing();
  });

  it('xl sees what our block-attach and network-attach added, and can detach it', async () => {
    const image = join(configDir, 'extra.img');
    writeFileSync(image, '');
    const disk = await cli('block-attach', 'cli-pv', `${image},raw,xvdc,w`);
    expect(disk.code, disk.stderr).toBe(0);
    const nic = await cli('network-attach', 'cli-pvh', 'bridge=xenbr0', 'mac=00:16:3e:00:10:0a');
    expect(nic.code, nic.stderr).toBe(0);
    await expectSameListing();

    const xlDetach = await fx.current.xl('block-detach', 'cli-pv', 'xvdc');
    expect(xlDetach.code, xlDetach.stderr).toBe(0);
    const ours = await cli('network-detach', 'cli-pvh', '00:16:3e:00:10:0a');
    expect(ours.code, ours.stderr).toBe(0);
    await expectSameListing();
  });

  it('lists the same names and ids as xl list', async () => {
    const xl = await fx.current.xl('list');
    const ours = await cli('list');
    const rows = (text: string) => text.trimEnd().split('\n').slice(1).map((line) => line.split(/\s+/).slice(0, 2).join(' '));
    expect(rows(ours.stdout)).toEqual(rows(xl.stdout));
  });
});
