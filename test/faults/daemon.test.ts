// xenstored killed, or frozen and resumed, while a command runs: the command
// says so in one line with the documented status, and leaves nothing behind
// (no process, no temporary or lock file).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startLocalXenstored, type LocalXenstored } from '../../lib/localxen/xenstored.js';
import { TemplateStore, type ReleaseLock } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { CLI, type CliResult } from '../cli/run.js';
import { createDomain, tempUserdataDir, uuidOf } from '../domain/fixture.js';
import { testDaemon } from '../harness/xenstored.js';

const DOMAINS = 40;

interface Rig {
  daemon: LocalXenstored;
  xenstore: XenStore;
  userdata: { dir: string; remove(): void };
  templates: TemplateStore;
}
let rig: Rig | undefined;

async function startRig(domains = DOMAINS): Promise<Rig> {
  const daemon = await startLocalXenstored({ daemon: testDaemon() });
  const xenstore = XenStore.open({ path: daemon.socketPath });
  const userdata = tempUserdataDir();
  for (let domid = 1; domid <= domains; domid++) await createDomain(xenstore, userdata.dir, { domid, name: `guest${domid}`, type: 'pv' });
  rig = { daemon, xenstore, userdata, templates: new TemplateStore({ xenstore, dir: userdata.dir }) };
  return rig;
}

afterEach(async () => {
  await rig?.xenstore.close();
  await rig?.daemon.stop();
  rig?.userdata.remove();
  rig = undefined;
});

/** The command, running; `result` settles when it exits. */
function startCli(r: Rig, args: string[]): { child: ChildProcess; result: Promise<CliResult> } {
  const child = spawn(process.execPath, [CLI, '--xenstore', r.daemon.socketPath, '--userdata-dir', r.userdata.dir, '--no-hotplug-scripts', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.setEncoding('utf8').on('data', (text: string) => { stdout += text; });
  child.stderr!.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
  const result = once(child, 'close').then(([code, signal]) => ({ code, signal, stdout, stderr }) as CliResult);
  return { child, result };
}

/** Resolves once the process has one of the domain-userdata lock files open (it waits for that lock). */
async function waitingForLock(pid: number): Promise<void> {
  for (let tries = 0; tries < 1000; tries++) {
    const fds = readdirSync(`/proc/${pid}/fd`);
    if (fds.some((fd) => { try { return readlinkSync(`/proc/${pid}/fd/${fd}`).includes('userdata-l.'); } catch { return false; } })) return;
    await sleep(10);
  }
  throw new Error(`process ${pid} never opened a lock file`);
}

/** Holds every domain's lock, as another toolstack would. */
async function holdLocks(r: Rig, domains = DOMAINS): Promise<ReleaseLock[]> {
  const releases: ReleaseLock[] = [];
  for (let domid = 1; domid <= domains; domid++) releases.push(await r.templates.lock(domid, { uuid: uuidOf(domid) }));
  return releases;
}

function expectOneLine(result: CliResult, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/** Files the command left in the userdata folder: none but the templates (and the lock files it may keep). */
function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => !/^userdata-d\.\d+\..*\.libxl-json$/.test(name) && !/^userdata-l\./.test(name));
}

describe('xenstored killed during list -l (finding 8)', () => {
  it('is one line and exit 3, not one line per domain', async () => {
    const r = await startRig();
    const releases = await holdLocks(r);
    const { child, result } = startCli(r, ['list', '-l']);
    await waitingForLock(child.pid!);
    await r.xenstore.close();
    r.daemon.kill();
    for (const release of releases) await release();
    const done = await result;
    expectOneLine(done, 3, /^xen-domconfig: (lost the connection to xenstored|cannot connect to xenstored)/);
    expect(done.stdout).toBe('');
    expect(leftovers(r.userdata.dir)).toEqual([]);
  });
});

/** Resolves once xenstore holds a disk or nic backend for the domain: the attach is waiting for it to answer. */
async function waitingForBackend(r: Rig, domid: number): Promise<void> {
  for (let tries = 0; tries < 1000; tries++) {
    for (const kind of ['vbd', 'qdisk', 'vif']) {
      const devids = await r.xenstore.list(`/local/domain/0/backend/${kind}/${domid}`);
      if (devids && devids.length > 0) return;
    }
    await sleep(10);
  }
  throw new Error(`no backend for domain ${domid} appeared`);
}

/** The command's process and any child of it are gone. */
function gone(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return false;
  } catch {
    return true;
  }
}

describe('xenstored frozen and resumed', () => {
  it('list -l waits for it and then prints every domain (exit 0)', async () => {
    const r = await startRig(10);
    const releases = await holdLocks(r, 10);
    const { child, result } = startCli(r, ['list', '-l']);
    await waitingForLock(child.pid!);
    process.kill(r.daemon.pid, 'SIGSTOP');
    try {
      for (const release of releases) await release();
      await sleep(300); // the command's reads are sent to a daemon that does not answer
    } finally {
      process.kill(r.daemon.pid, 'SIGCONT');
    }
    const done = await result;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stderr).toBe('');
    expect([...done.stdout.matchAll(/"domid": (\d+)/g)].map((match) => Number(match[1]))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });
});

describe('xenstored killed during a hotplug', () => {
  it('block-attach waiting for the backend: one line, exit 3, no temporary file, no process left', async () => {
    const r = await startRig(1);
    const { child, result } = startCli(r, ['block-attach', '1', 'format=raw,vdev=xvdc,access=r,backendtype=phy,target=/dev/null']);
    await waitingForBackend(r, 1);
    await r.xenstore.close();
    r.daemon.kill();
    const done = await result;
    expectOneLine(done, 3, /^xen-domconfig: (lost the connection to xenstored|cannot connect to xenstored)/);
    expect(leftovers(r.userdata.dir)).toEqual([]);
    expect(gone(child.pid!)).toBe(true);
  });
});

describe('signals during long commands', () => {
  it.each(['SIGINT', 'SIGTERM'] as const)('%s during block-attach and network-attach (waiting for the backend) and list -l (waiting for a lock) ends the command and leaves no temporary file', async (signal) => {
    const r = await startRig(2);
    const attach = startCli(r, ['block-attach', '1', 'format=raw,vdev=xvdc,access=r,backendtype=phy,target=/dev/null']);
    await waitingForBackend(r, 1);
    attach.child.kill(signal);
    const nic = startCli(r, ['network-attach', '2', 'bridge=xenbr0']);
    await waitingForBackend(r, 2);
    nic.child.kill(signal);
    const releases = await holdLocks(r, 2);
    const list = startCli(r, ['list', '-l']);
    await waitingForLock(list.child.pid!);
    list.child.kill(signal);
    for (const done of [await attach.result, await nic.result, await list.result]) {
      // Ended by the signal itself, or by a handler exiting with its status.
      expect(done.signal ?? done.code).toSatisfy((status: unknown) => status === signal || status === 128 + (signal === 'SIGINT' ? 2 : 15));
      expect(done.stderr).not.toMatch(/\n\s+at /);
    }
    for (const release of releases) await release();
    expect(leftovers(r.userdata.dir)).toEqual([]);
    expect(gone(attach.child.pid!) && gone(nic.child.pid!) && gone(list.child.pid!)).toBe(true);
    // What the interrupted attach left is a state retrieve handles.
    const retrieved = startCli(r, ['retrieve', '1']);
    expect((await retrieved.result).code).toBe(0);
  });
});
