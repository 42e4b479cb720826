// `xen-domconfig demo` end to end: it must run on its own, show each step,
// and leave nothing behind.
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseDomainList } from '../../lib/config/index.js';
import { runCli } from './run.js';

describe('demo', () => {
  it('builds a small host, hotplugs, survives a crash mid-hotplug and reports the drift', async () => {
    const result = await runCli(['demo']);
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout;

    // 1. the private daemon and its folders
    const socket = /on (\/\S+\/socket)/.exec(out)?.[1];
    const userdataDir = /Templates go to (\S+) /.exec(out)?.[1];
    const workDir = /Cleaned up: xenstored stopped, (\S+) removed/.exec(out)?.[1];
    expect(socket).toBeDefined();
    expect(userdataDir).toBeDefined();

    // 2–3. domains created through the library, a disk attached by the command
    expect(out).toMatch(/^ +1 web +pv/m);
    expect(out).toMatch(/^ +2 db +pvh/m);
    expect(out).toMatch(/\$ xen-domconfig block-attach web \/\S+\/images\/scratch\.img,raw,xvdc,w\n +attached disk xvdc to domain 1/);

    // 4. the hotplug killed half-way
    expect(out).toMatch(/XEN_DOMCONFIG_FAULT=add\.template-written xen-domconfig network-attach build/);
    expect(out).toMatch(/killed by SIGKILL at add\.template-written/);

    // 5. list -l: every domain, the attached disk, not the half-added nic
    const listing = /\$ xen-domconfig list -l[^\n]*\n([^]*?)\n6\. /.exec(out)?.[1];
    expect(listing).toBeDefined();
    const domains = parseDomainList(listing!.replace(/^ {5}/gm, ''));
    expect(domains.map((d) => [d.domid, d.config.c_info.name])).toEqual([[0, 'Domain-0'], [1, 'web'], [2, 'db'], [3, 'build']]);
    expect(domains[1]!.config.disks.map((d) => d.vdev)).toEqual(['xvda', 'xvdb', 'xvdc']);
    expect(domains[3]!.config.nics.map((n) => n.devid)).toEqual([0]);

    // 6. the drift report names the template-only nic
    expect(out).toMatch(/domain 3: the template and xenstore differ/);
    expect(out).toMatch(/^ +nic 1 +present +absent +template only/m);

    // honest about its limits, and cleaned up
    expect(out).toMatch(/no hypervisor runs/);
    expect(out).toMatch(/Cleaned up/);
    expect(existsSync(socket!)).toBe(false);
    expect(userdataDir!.startsWith(`${workDir}/`)).toBe(true);
    expect(existsSync(workDir!)).toBe(false);
  });
});
