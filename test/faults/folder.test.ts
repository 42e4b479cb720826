// The userdata folder full, read-only, or not writable by the user: store and
// hotplug fail in one line with the documented status, the template stays as
// it was, and no temporary file is left.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDomainConfig } from '../../lib/config/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { CLI, runCli, type CliResult } from '../cli/run.js';
import { createDomain, templateFor, type FixtureDomain } from '../domain/fixture.js';
import { folderSnapshot } from '../harness/snapshot.js';
import { useLocalXenstored } from '../harness/xenstored.js';

const xs = useLocalXenstored();
const GUEST: FixtureDomain = { domid: 1, name: 'guest', type: 'pv' };
const isRoot = process.getuid?.() === 0;
let store: XenStore;
let work: string;

/** Mounts with mount(8); false (and a message) where this sandbox does not allow it. */
function mount(args: string[]): boolean {
  try {
    execFileSync('mount', args, { stdio: 'pipe' });
    return true;
  } catch (error) {
    console.warn(`mount ${args.join(' ')} is not permitted here (${(error as Error).message.split('\n')[0]}): case skipped`);
    return false;
  }
}

beforeAll(() => {
  store = XenStore.open({ path: xs.current.socketPath });
  work = mkdtempSync(join(tmpdir(), 'xen-domconfig-faults-'));
});
afterAll(async () => {
  await store?.close();
  rmSync(work, { recursive: true, force: true });
});

const cli = (dir: string, ...args: string[]) => runCli(['--xenstore', xs.current.socketPath, '--userdata-dir', dir, '--no-hotplug-scripts', ...args]);

function expectOneLine(result: CliResult, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(pattern);
}

/** A template of about `bytes` bytes for the guest (an unknown key pads it). */
function templateOf(bytes: number): string {
  const text = formatDomainConfig(templateFor(GUEST));
  return `${text.slice(0, -2)},\n    "padding": "${'x'.repeat(bytes)}"\n}\n`;
}

describe.skipIf(!isRoot)('the userdata folder', () => {
  it('full (a 64 KiB tmpfs): store fails with ENOSPC (exit 1), the old template intact, no temporary left', async () => {
    const dir = join(work, 'full');
    mkdirSync(dir);
    if (!mount(['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir])) return;
    try {
      await createDomain(store, dir, GUEST);
      const before = folderSnapshot(dir);
      const file = join(work, 'large.json');
      writeFileSync(file, templateOf(200 * 1024));
      const result = await cli(dir, 'store', '1', file);
      expectOneLine(result, 1, /cannot write .*userdata-n\.1\..*ENOSPC/);
      expect(folderSnapshot(dir)).toEqual(before);
    } finally {
      execFileSync('umount', [dir]);
    }
  });

  it('read-only (a read-only bind mount): store and block-attach fail with EROFS (exit 6), nothing changed', async () => {
    const dir = join(work, 'writable');
    const readOnly = join(work, 'read-only');
    mkdirSync(dir);
    mkdirSync(readOnly);
    await createDomain(store, dir, { ...GUEST, domid: 2, name: 'guest2' });
    if (!mount(['--bind', dir, readOnly])) return;
    try {
      if (!mount(['-o', 'remount,ro,bind', readOnly])) return;
      const before = folderSnapshot(dir);
      const file = join(work, 'small.json');
      writeFileSync(file, formatDomainConfig(templateFor({ ...GUEST, domid: 2, name: 'guest2' })));
      const stored = await cli(readOnly, 'store', '2', file);
      expectOneLine(stored, 6, /read-only file system/);
      expect(stored.stderr).not.toMatch(/run as root/); // root cannot help there
      expectOneLine(await cli(readOnly, 'block-attach', '2', 'phy:/dev/null,xvdc,r'), 6, /read-only file system/);
      expect(folderSnapshot(dir)).toEqual(before);
      // A retrieve takes the domain-userdata lock, whose file it must be able to create (as libxl's).
      expectOneLine(await cli(readOnly, 'retrieve', '2'), 6, /read-only file system/);
    } finally {
      execFileSync('umount', [readOnly]);
    }
  });

  it.skipIf(!existsSync('/usr/bin/setpriv'))('not writable by the user (nobody): store fails with EACCES (exit 6), nothing changed', async () => {
    const dir = join(work, 'root-only');
    mkdirSync(dir);
    await createDomain(store, dir, { ...GUEST, domid: 3, name: 'guest3' });
    chmodSync(dir, 0o755);
    chmodSync(work, 0o755);
    const file = join(work, 'guest3.json');
    writeFileSync(file, formatDomainConfig(templateFor({ ...GUEST, domid: 3, name: 'guest3' })));
    chmodSync(file, 0o644);
    const before = folderSnapshot(dir);
    // nobody may use the socket only if its folder lets it: the daemon's folder is root's, so --xenstore is refused first
    // unless it can connect; either way the status is 6 and the folder unchanged.
    const result = await runCli(['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI,
      '--xenstore', xs.current.socketPath, '--userdata-dir', dir, 'store', '3', file], { command: '/usr/bin/setpriv' });
    expectOneLine(result, 6, /permission denied/);
    expect(folderSnapshot(dir)).toEqual(before);
    expect(readdirSync(dir).some((name) => name.startsWith('userdata-n.'))).toBe(false);
  });
});
