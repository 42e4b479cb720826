// An addon that is missing or cannot be loaded is one NativeAddonError: what
// failed, on which platform, C library and Node ABI, and what to do; the
// command prints it as one line and exits 3. Each case loads lib/native.ts
// afresh (it keeps the addon it loaded).
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { packageRoot } from '../../lib/util/package-root.js';
import { runCli } from '../cli/run.js';

const work = mkdtempSync(join(tmpdir(), 'xen-domconfig-addon-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
afterEach(() => { vi.unstubAllEnvs(); });

const notElf = join(work, 'not-elf.node');
writeFileSync(notElf, 'this is a text file, not a shared object\n'.repeat(8));
const otherMachine = join(packageRoot(), 'prebuilds/linux-arm64/xen-domconfig.glibc.node');
const HOST = new RegExp(`on ${process.platform}-${process.arch} \\(glibc [0-9.]+, Node ${process.versions.node}, ABI ${process.versions.modules}, N-API ${process.versions.napi}\\): `);

async function loadError(): Promise<Error & { code?: string }> {
  vi.resetModules();
  const { native, NativeAddonError } = await import('../../lib/native.js');
  try {
    native();
  } catch (error) {
    expect(error).toBeInstanceOf(NativeAddonError);
    return error as Error;
  }
  throw new Error('the addon loaded');
}

describe('XEN_DOMCONFIG_NATIVE naming a file that cannot be the addon', () => {
  it('a missing file', async () => {
    vi.stubEnv('XEN_DOMCONFIG_NATIVE', join(work, 'nonexistent.node'));
    const error = await loadError();
    expect(error).toMatchObject({ name: 'NativeAddonError', code: 'ERR_XEN_DOMCONFIG_ADDON' });
    expect(error.message).toMatch(HOST);
    expect(error.message).toContain(`XEN_DOMCONFIG_NATIVE names ${work}/nonexistent.node, which does not exist; unset it`);
    expect(error.message).not.toContain('\n');
  });

  it('a file that is not ELF', async () => {
    vi.stubEnv('XEN_DOMCONFIG_NATIVE', notElf);
    const error = await loadError();
    expect(error.message).toMatch(HOST);
    expect(error.message).toContain(`${notElf} cannot be loaded (invalid ELF header); unset XEN_DOMCONFIG_NATIVE`);
    expect(error.message).not.toContain('\n');
    expect((error.cause as { code?: string }).code).toBe('ERR_DLOPEN_FAILED');
  });

  it.skipIf(process.arch !== 'x64' || !existsSync(otherMachine))('the arm64 prebuild on x64', async () => {
    vi.stubEnv('XEN_DOMCONFIG_NATIVE', otherMachine);
    const error = await loadError();
    expect(error.message).toContain(`${otherMachine} cannot be loaded (x64 cannot load this file: a binary for another machine, or not a shared object)`);
  });
});

describe('the command', () => {
  it('prints the error as one line and exits 3', async () => {
    const result = await runCli(['--xenstore', '/nonexistent/socket', 'list'], { env: { ...process.env, XEN_DOMCONFIG_NATIVE: notElf } });
    expect(result.code).toBe(3);
    expect(result.stdout).toBe('');
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^xen-domconfig: xen-domconfig's native addon cannot be loaded on /);
    expect(lines[0]).toContain('(invalid ELF header)');
  });

  it('does not need the addon for --help', async () => {
    const result = await runCli(['--help'], { env: { ...process.env, XEN_DOMCONFIG_NATIVE: notElf } });
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/3 +xenstored is not reachable, or the native addon cannot be loaded/);
  });
});

