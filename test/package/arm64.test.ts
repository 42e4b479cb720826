// The arm64 prebuild at work on this x86-64 machine: Node's arm64 binary runs
// under qemu-user with Debian's arm64 libc, libstdc++ and libxenstore
// (scripts/arm64-sysroot.sh, which scripts/prebuilds.sh runs), loads
// prebuilds/linux-arm64 through the package's own loader, and reads, writes,
// lists and watches nodes of the real xenstored this file starts (an x86
// daemon: the socket protocol is the same on every architecture).
import { execFile, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../lib/util/package-root.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';

const root = packageRoot();
const sysroot = join(root, '.cache/arm64/sysroot');
const arm64Node = join(root, '.cache/arm64/node/bin/node');
const prebuild = join(root, 'prebuilds/linux-arm64/xen-domconfig.glibc.node');
const child = join(root, 'test/package/arm64-child.mjs');

const missing = [
  ...(spawnSync('qemu-aarch64', ['--version']).error ? ['qemu-aarch64'] : []),
  ...[sysroot, arm64Node, prebuild].filter((file) => !existsSync(file)).map((file) => file.slice(root.length + 1)),
];
const unavailable = missing.length ? `skipped: ${missing.join(', ')} missing; run \`npm run prebuilds\` (scripts/prebuilds.sh) first` : undefined;
if (unavailable) console.warn(`arm64 prebuild under qemu: ${unavailable}`);

interface Arm64Report {
  arch: string;
  library: { loaded: boolean; library?: string };
  mapped: string[];
  readBack: string;
  fromTest: string;
  list: string[];
  inTransaction: string[];
  event: { path: string };
}

function runArm64(args: string[]): Promise<Arm64Report> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, PREBUILDS_ONLY: '1' };
  return new Promise((resolve, reject) => {
    execFile('qemu-aarch64', ['-L', sysroot, arm64Node, child, ...args], { env, timeout: 120_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${error.message}\n${stderr}`));
      else resolve(JSON.parse(stdout) as Arm64Report);
    });
  });
}

describe.skipIf(unavailable !== undefined)(`arm64 prebuild under qemu-aarch64${unavailable ? ` (${unavailable})` : ''}`, () => {
  const xs = useLocalXenstored();

  it('loads through the package loader and uses libxenstore against the real xenstored', { timeout: 180_000 }, async () => {
    const base = '/arm64-proof';
    const store = XenStore.open({ path: xs.current.socketPath });
    try {
      await store.write(`${base}/from-test`, 'written by x86-64');
      const report = await runArm64([xs.current.socketPath, base]);

      expect(report.arch).toBe('arm64');
      // The arm64 prebuild and the sysroot's arm64 libxenstore are what the process mapped.
      expect(report.mapped).toContain(prebuild);
      expect(report.mapped.some((file) => file.startsWith(`${sysroot}/usr/lib/aarch64-linux-gnu/libxenstore.so.4`))).toBe(true);
      expect(report.library).toMatchObject({ loaded: true, library: 'libxenstore.so.4' });

      expect(report.fromTest).toBe('written by x86-64');
      expect(report.readBack).toBe('from arm64');
      expect(report.list).toEqual(['dir', 'from-test', 'watched', 'written']);
      expect(report.inTransaction).toEqual(['in-transaction']);
      expect(report.event.path).toBe(`${base}/watched`);

      // What it wrote is in the daemon, read back from this side.
      expect(await store.read(`${base}/written`)).toBe('from arm64');
      expect(await store.read(`${base}/dir/in-transaction`)).toBe('committed');
      expect(await store.read(`${base}/watched`)).toBe('changed');
    } finally {
      await store.close();
    }
  });
});
