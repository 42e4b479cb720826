// Differential test against the real xl/libxl 4.17 (../shared/fakexen): real
// `xl create` of PV and PVH guests with disks and nics, hotplug with real
// block-attach/network-attach/detach, mem-set, rename and vcpu-set, then our
// listDomains on the same xenstored and userdata dir must print what
// `xl list -l` prints, byte for byte, except for the two documented differences:
//  - sched_params: libxl asks the hypervisor (here the fake one); we return
//    the template's, so xl's values are copied in before comparing;
//  - dom0's target_memkb: libxl 4.17 adds LIBXL_MEMKB_DEFAULT as video memory
//    and wraps to one KiB below memory/target; we do not.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDomainList, parseDomainList, type DomainConfig } from '../../lib/config/index.js';
import { XenHost } from '../../lib/host.js';
import type { LongListEntry } from '../../lib/domain/list.js';
import { fakexenAvailable, useFakexen } from '../harness/fakexen.js';

const unavailable = fakexenAvailable();
if (unavailable) console.warn(`skipping the xl list -l differential test: ${unavailable}`);

const CONFIGS = {
  'dpv.cfg': [
    'name = "dpv"', 'type = "pv"', 'uuid = "22222222-3333-4444-5555-666666666666"', 'memory = 256', 'maxmem = 512',
    'vcpus = 2', 'maxvcpus = 3', 'kernel = "/usr/lib/fakexen/mini-pv.elf"', 'extra = "console=hvc0"',
    "disk = ['phy:/dev/vg/guest,xvda,w', 'phy:/dev/vg/data,xvdb,r']", "vif = ['mac=00:16:3e:00:00:07,bridge=xenbr0']",
  ],
  'dpvh.cfg': [
    'name = "dpvh"', 'type = "pvh"', 'uuid = "33333333-4444-5555-6666-777777777777"', 'memory = 512', 'vcpus = 1',
    'kernel = "/usr/lib/fakexen/mini-pv.elf"', "disk = ['phy:/dev/vg/guest,xvda,w']",
    "vif = ['mac=00:16:3e:00:00:08,bridge=xenbr0', 'mac=00:16:3e:00:00:09,bridge=xenbr1,mtu=9000']",
  ],
};

describe.skipIf(unavailable !== undefined)('xl list -l equals listDomains({ long: true })', () => {
  const fx = useFakexen({ name: 'domain-diff' });
  let host: XenHost;

  beforeAll(async () => {
    for (const [file, lines] of Object.entries(CONFIGS)) {
      const path = join(fx.current.env.FAKEXEN_RUN, file);
      writeFileSync(path, `${lines.join('\n')}\n`);
      const created = await fx.current.xl('create', '-e', path);
      expect(created.code, created.stderr).toBe(0);
    }
    host = XenHost.open({ xenstorePath: fx.current.env.XENSTORED_PATH, userdataDir: fx.current.env.FAKEXEN_USERDATA_DIR });
  }, 120_000);
  afterAll(async () => { await host?.close(); });

  async function compare(): Promise<void> {
    const xl = await fx.current.xl('list', '-l');
    expect(xl.code, xl.stderr).toBe(0);
    const expected = parseDomainList(xl.stdout);
    const ours = await host.listDomains({ long: true });
    const configs = ours.map((entry: LongListEntry) => {
      if ('error' in entry) throw entry.error;
      expect(entry.devices.onlyInXenstore).toEqual([]);
      expect(entry.devices.problems).toEqual([]);
      return entry;
    });
    expect(configs.map((c) => c.domid)).toEqual(expected.map((e) => e.domid));
    const adjusted = configs.map(({ domid, config }, i) => {
      const copy: DomainConfig = structuredClone(config);
      copy.b_info.sched_params = expected[i]!.config.b_info.sched_params;
      if (domid === 0) {
        expect(copy.b_info.target_memkb - expected[i]!.config.b_info.target_memkb).toBe(1n);
        copy.b_info.target_memkb -= 1n;
      }
      return { domid, config: copy };
    });
    expect(formatDomainList(adjusted)).toBe(xl.stdout);
  }

  it('after create', async () => {
    await compare();
    const listed = await host.listDomains({ long: true });
    expect(listed.flatMap((e) => ('devices' in e ? e.devices.onlyInTemplate : []))).toEqual([]);
  });

  it('after hotplug: block-attach, network-attach, mem-set, rename, network-detach', async () => {
    for (const args of [
      ['block-attach', 'dpv', 'phy:/dev/vg/scratch,xvdc,w'],
      ['network-attach', 'dpv', 'mac=00:16:3e:00:00:17', 'bridge=xenbr1'],
      ['mem-set', 'dpvh', '300m'],
      ['rename', 'dpvh', 'dpvh-renamed'],
      ['network-detach', 'dpvh-renamed', '0'],
    ]) {
      const result = await fx.current.xl(...args);
      expect(result.code, `xl ${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    await compare();
    // The detached nic's stale template entry is dropped from both outputs.
    const pvh = (await host.listDomains({ long: true })).find((e) => e.domid === 2)!;
    expect('config' in pvh && pvh.devices.onlyInTemplate.map((d) => [d.kind, d.key])).toEqual([['nic', '0']]);
  }, 120_000);

  it('after block-detach and vcpu-set (a vCPU set offline, then one more online)', async () => {
    for (const args of [['block-detach', 'dpv', 'xvdb'], ['vcpu-set', 'dpv', '1']]) {
      const result = await fx.current.xl(...args);
      expect(result.code, `xl ${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    await compare();
    const pv = (await host.listDomains({ long: true })).find((e) => e.domid === 1)!;
    expect('config' in pv && pv.config.b_info.avail_vcpus).toEqual([0]);
    const more = await fx.current.xl('vcpu-set', 'dpv', '3');
    expect(more.code, more.stderr).toBe(0);
    await compare();
  }, 120_000);

  // Last: the nodes are put back, but xl's own detach would read them meanwhile.
  it('the keys under the /libxl device nodes are not read: a backend xl ignores too, a handle it does not', async () => {
    const before = await host.listDomains({ long: true });
    const written: [string, string][] = [];
    const rewrite = async (path: string, value: string) => {
      written.push([path, (await host.xenstore.read(path))!]);
      await host.xenstore.write(path, value);
    };
    try {
      // libxl's from_xenstore parses `backend` for a backend domid that no list shows.
      for (const kind of ['vbd', 'vif']) {
        for (const devid of (await host.xenstore.list(`/libxl/1/device/${kind}`)) ?? []) {
          await rewrite(`/libxl/1/device/${kind}/${devid}/backend`, `/local/domain/7/backend/${kind}/1/${devid}`);
        }
      }
      await compare();
      expect(await host.listDomains({ long: true })).toEqual(before);
      // libxl takes a nic's devid from `handle`, which it writes equal to the node's name: xl
      // then drops the nic, here the node's name decides (README, deliberate differences).
      await rewrite('/libxl/1/device/vif/0/handle', '9');
      const xl = parseDomainList((await fx.current.xl('list', '-l')).stdout);
      expect(xl.find((e) => e.domid === 1)!.config.nics.map((n) => n.devid)).not.toContain(0);
      expect(await host.listDomains({ long: true })).toEqual(before);
    } finally {
      for (const [path, value] of written.reverse()) await host.xenstore.write(path, value);
    }
    await compare();
  }, 120_000);
});
