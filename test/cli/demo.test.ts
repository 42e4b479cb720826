// `xen-domconfig demo` end to end: it must run on its own, show each step,
// and leave nothing behind.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDomainList } from '../../lib/config/index.js';
import { CLI, runCli } from './run.js';

/** Whether pid names a process that still runs (a zombie no parent reaps has ended). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}

/**
 * Starts the demo and, once it has started its daemon and made its folder,
 * ends it with `end`; resolves with how it ended and what it had left running.
 */
async function interruptedDemo(end: (child: ReturnType<typeof spawn>) => void) {
  const child = spawn(process.execPath, [CLI, 'demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let ended = false;
  const exited = once(child, 'exit');
  // Read on after `end` (a for-await loop left early would close the pipe, and EPIPE would end the demo first).
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    out += chunk;
    if (!ended && /Templates go to /.test(out)) {
      ended = true;
      end(child);
    }
  });
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  const pid = Number(/\(pid ([0-9]+)\)/.exec(out)?.[1]);
  const socket = /on (\/\S+\/socket)/.exec(out)![1]!;
  const userdataDir = /Templates go to (\S+) /.exec(out)![1]!;
  return { ended, code, signal, pid, rundir: dirname(socket), workDir: dirname(userdataDir) };
}

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
    expect(out).toMatch(/\$ xen-domconfig network-attach build bridge=xenbr1 +\(killed by the crash-test hook at add\.template-written\)/);
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

  it('leaves no daemon and no folder behind when its reader goes away (demo | head)', async () => {
    const result = await interruptedDemo((child) => child.stdout!.destroy());
    expect(result.ended).toBe(true);
    expect(result.code).toBe(141);
    expect(running(result.pid)).toBe(false);
    expect(existsSync(result.rundir)).toBe(false);
    expect(existsSync(result.workDir)).toBe(false);
  });

  it.each([['SIGINT', 130], ['SIGTERM', 143]] as const)('leaves no daemon and no folder behind when ended by %s (exit %i)', async (signal, status) => {
    const result = await interruptedDemo((child) => child.kill(signal));
    expect(result.code).toBe(status);
    expect(running(result.pid)).toBe(false);
    expect(existsSync(result.rundir)).toBe(false);
    expect(existsSync(result.workDir)).toBe(false);
  });
});
