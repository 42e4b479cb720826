// The one error model: a representative failure of every layer, met against
// a private real xenstored, is a XenDomconfigError whose code is in
// ERROR_CODES, and the command's exit status for it is that table's; the
// README's table of codes is the same table.
import { execFile } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CliError, exitCodeFor } from '../../lib/cli/errors.js';
import { parseDomainConfig } from '../../lib/config/index.js';
import { parseDiskSpec } from '../../lib/devices/kinds/disk.js';
import { parseUint64 } from '../../lib/devices/parse.js';
import { assignableBusid } from '../../lib/devices/usbback.js';
import { XenHost } from '../../lib/host.js';
import { parseFaultSpec } from '../../lib/domain/faults.js';
import { ERROR_CODES, EXIT, isLibraryErrorCode, XenDomconfigError, type LibraryErrorCode } from '../../lib/errors.js';
import * as entry from '../../lib/index.js';
import { startLocalXenstored } from '../../lib/localxen/xenstored.js';
import { TemplateStore } from '../../lib/userdata/index.js';
import { packageRoot } from '../../lib/util/package-root.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir, uuidOf } from '../domain/fixture.js';
import { testDaemon, useLocalXenstored } from '../harness/xenstored.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;
let host: XenHost;
const GUEST = 3;
const NO_TEMPLATE = 4;
const CORRUPT = 5;

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  host = new XenHost({ xenstore: store, userdataDir: userdata.dir, runHotplugScripts: false });
  await createDomain(store, userdata.dir, { domid: GUEST, name: 'guest', type: 'pv' });
  await createDomain(store, userdata.dir, { domid: NO_TEMPLATE, name: 'bare', type: 'pv' });
  rmSync(host.templates.paths(NO_TEMPLATE, uuidOf(NO_TEMPLATE)).data);
  await createDomain(store, userdata.dir, { domid: CORRUPT, name: 'corrupt', type: 'pv' });
  writeFileSync(host.templates.paths(CORRUPT, uuidOf(CORRUPT)).data, '{"c_info": \0');
});

afterAll(async () => {
  await host?.close();
  await store?.close();
  userdata.remove();
});

async function failureOf(operation: () => unknown): Promise<unknown> {
  try {
    await operation();
  } catch (error) {
    return error;
  }
  throw new Error('expected a failure');
}

/** What every error the library raises on purpose must be. */
function expectInModel(error: unknown, code: LibraryErrorCode, exit: number): void {
  expect(error).toBeInstanceOf(XenDomconfigError);
  expect(error, (error as Error).message).toMatchObject({ code });
  expect(isLibraryErrorCode((error as XenDomconfigError).code)).toBe(true);
  expect(ERROR_CODES[code].exit).toBe(exit);
  expect(exitCodeFor(error)).toBe(exit);
}

/** [failure, the operation, its code, the command's exit status for it]. */
const LAYERS: Array<[string, () => unknown, LibraryErrorCode, number]> = [
  ['a bad domid (template store)', () => host.templates.read(-1), 'EBADDOMID', EXIT.USAGE],
  ['a bad domid (hotplug)', () => host.addDevice(0, 'disk', { vdev: 'xvda' }), 'EBADDOMID', EXIT.USAGE],
  ['a bad domid (create-time save)', () => host.storeDomainConfiguration(0x8000, parseDomainConfig('{}')), 'EBADDOMID', EXIT.USAGE],
  ['a bad uuid', () => host.templates.write(GUEST, '{}', { uuid: '../../etc/passwd' }), 'EBADUUID', EXIT.USAGE],
  ['an unknown domain (retrieve)', () => host.retrieveDomainConfiguration(42), 'ENODOMAIN', EXIT.NOT_FOUND],
  ['an unknown domain (hotplug)', () => host.addDevice(42, 'nic', {}), 'ENODOMAIN', EXIT.NOT_FOUND],
  ['a domain without a template', () => host.retrieveDomainConfiguration(NO_TEMPLATE), 'ENOTEMPLATE', EXIT.NOT_FOUND],
  ['a corrupt template', () => host.retrieveDomainConfiguration(CORRUPT), 'ECORRUPT', EXIT.CORRUPT],
  ['libxl-json that is not a domain configuration', () => parseDomainConfig('{"c_info": ['), 'ERR_CONFIG', EXIT.CORRUPT],
  ['xenstore ENOENT', () => store.rm('/no-parent/child'), 'ENOENT', EXIT.NOT_FOUND],
  ['xenstore EINVAL (a relative path)', () => store.read('relative/path'), 'EINVAL', EXIT.USAGE],
  ['a request on a closed XenStore', async () => {
    const closed = XenStore.open({ path: xs.current.socketPath });
    await closed.close();
    return closed.read('/local');
  }, 'ERR_XENSTORE_CLOSED', EXIT.FAILED],
  ['an unknown device kind', () => host.addDevice(GUEST, 'floppy' as never, {}), 'EINVAL', EXIT.USAGE],
  ['a device field of the wrong type', () => host.addDevice(GUEST, 'disk', { vdev: 'xvdb', readwrite: 'yes' as never }), 'EINVAL', EXIT.USAGE],
  ['an unknown device', () => host.removeDevice(GUEST, 'disk', 'xvdz'), 'ENODEV', EXIT.NOT_FOUND],
  ['a bad device specification', () => parseDiskSpec('xvda,,bogus=1'), 'EINVAL', EXIT.USAGE],
  ['a bad fault specification', () => parseFaultSpec('nowhere'), 'EINVAL', EXIT.USAGE],
  ['a malformed toolstack node', () => parseUint64('/libxl/3/device/vbd/51712/frontend-id', '0x3'), 'EXSVALUE', EXIT.FAILED],
  ['no such usb device on the host', () => assignableBusid(userdata.dir, 1, 2), 'ENODEV', EXIT.NOT_FOUND],
  ['the lock held elsewhere', async () => {
    const release = await host.templates.lock(GUEST);
    try {
      return await host.templates.lock(GUEST, { timeoutMs: 0 });
    } finally {
      await release();
    }
  }, 'ELOCKTIMEOUT', EXIT.FAILED],
  ['an aborted signal', () => host.listDomains({ long: true, signal: AbortSignal.abort() }), 'ABORT_ERR', EXIT.FAILED],
  ['no daemon listening', () => XenStore.open({ path: join(userdata.dir, 'no-socket') }).read('/local'), 'ERR_XENSTORE_UNAVAILABLE', EXIT.NO_XENSTORED],
  ['the daemon gone mid-session', async () => {
    const daemon = await startLocalXenstored({ daemon: testDaemon() });
    await using doomed = XenStore.open({ path: daemon.socketPath });
    await doomed.read('/local');
    await daemon.stop();
    return doomed.read('/local');
  }, 'ERR_XENSTORE_CONNECTION_LOST', EXIT.NO_XENSTORED],
  ['the private daemon missing', async () => {
    const saved = process.env.XEN_DOMCONFIG_XENSTORED;
    process.env.XEN_DOMCONFIG_XENSTORED = join(userdata.dir, 'no-xenstored');
    try {
      return await startLocalXenstored({ daemon: 'xenstored' });
    } finally {
      if (saved === undefined) delete process.env.XEN_DOMCONFIG_XENSTORED;
      else process.env.XEN_DOMCONFIG_XENSTORED = saved;
    }
  }, 'ERR_LOCAL_XENSTORED_MISSING', EXIT.NO_XENSTORED],
  ['the mirror closed before it was ready', async () => {
    const mirror = host.mirror();
    const ready = mirror.ready;
    await mirror.close();
    return ready;
  }, 'ERR_MIRROR_CLOSED', EXIT.FAILED],
  ['a domain the command cannot find', () => { throw new CliError('ENODOMAIN', "no domain is named 'nosuch'"); }, 'ENODOMAIN', EXIT.NOT_FOUND],
];

describe('every layer fails with a XenDomconfigError of the table', () => {
  it.each(LAYERS)('%s', async (_name, operation, code, exit) => {
    const error = await failureOf(operation);
    expectInModel(error, code, exit);
  });

  it('system-call fields only where a system call failed', async () => {
    const enoent = await failureOf(() => store.rm('/no-parent/child'));
    expect(enoent).toMatchObject({ errno: 2, syscall: 'xs_rm', path: '/no-parent/child' });
    const elsewhere = new TemplateStore({ xenstore: store, dir: join(userdata.dir, 'absent') });
    const file = await failureOf(() => elsewhere.write(GUEST, '{}', { uuid: uuidOf(GUEST) }));
    expectInModel(file, 'ENOENT', EXIT.NOT_FOUND);
    expect(file).toMatchObject({ name: 'TemplateError', syscall: 'open', domid: GUEST });
    expect(typeof (file as { errno?: unknown }).errno).toBe('number');
    const unknownDomain = await failureOf(() => host.retrieveDomainConfiguration(42));
    expect(unknownDomain).not.toHaveProperty('errno');
    expect(unknownDomain).not.toHaveProperty('syscall');
    expect(unknownDomain).toMatchObject({ domid: 42 });
  });

  it('AbortError keeps Node\'s shape', async () => {
    const reason = new Error('gave up');
    const controller = new AbortController();
    controller.abort(reason);
    const error = await failureOf(() => host.listDomains({ long: true, signal: controller.signal }));
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: reason });
    expect(Object.keys(error as object)).not.toContain('name');
  });

  it.skipIf(process.getuid?.() !== 0)('permission denied: xenstored\'s socket and the userdata folder', async () => {
    const register = join(packageRoot(), 'test/userdata/children/ts-register.mjs');
    const child = join(packageRoot(), 'test/errors/unprivileged.ts');
    const { stdout } = await promisify(execFile)(process.execPath, [
      '--import', register, child, xs.current.socketPath, userdata.dir, String(GUEST), uuidOf(GUEST),
    ]);
    const seen = JSON.parse(stdout) as Record<string, { instance: boolean; code: string; causeCode?: string; exit: number }>;
    expect(seen.socket).toEqual({ instance: true, code: 'ERR_XENSTORE_UNAVAILABLE', causeCode: 'EACCES', exit: EXIT.PERMISSION });
    expect(seen.write).toMatchObject({ instance: true, code: 'EACCES', exit: ERROR_CODES.EACCES.exit });
  });
});

describe('the table of codes', () => {
  it('is exported from the package entry, with the base class', () => {
    expect(entry.XenDomconfigError).toBe(XenDomconfigError);
    expect(entry.ERROR_CODES).toBe(ERROR_CODES);
    for (const subclass of [entry.XenStoreError, entry.AbortError, entry.TemplateError, entry.ConfigError, entry.DomainError, entry.HotplugError, entry.NativeAddonError]) {
      expect(subclass.prototype).toBeInstanceOf(XenDomconfigError);
    }
  });

  it('is the README\'s table of error codes, code by code', () => {
    const readme = readFileSync(join(packageRoot(), 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('\n### Errors\n'));
    const rows = new Map<string, { exit: number; meaning: string }>();
    for (const line of section.slice(0, section.indexOf('\n\n', section.indexOf('| code | exit | meaning |'))).split('\n')) {
      const row = /^\| `([A-Z0-9_]+)` \| (\d) \| (.*) \|$/.exec(line);
      if (row) rows.set(row[1]!, { exit: Number(row[2]), meaning: row[3]! });
    }
    expect([...rows.keys()].sort()).toEqual(Object.keys(ERROR_CODES).sort());
    for (const [code, documented] of rows) expect(documented, code).toEqual(ERROR_CODES[code as LibraryErrorCode]);
  });

  it('gives every code one of the command\'s exit statuses', () => {
    const statuses = new Set<number>(Object.values(EXIT));
    for (const [code, { exit }] of Object.entries(ERROR_CODES)) expect(statuses.has(exit), code).toBe(true);
    expect(exitCodeFor(Object.assign(new Error('disk full'), { code: 'ENOSPC' }))).toBe(EXIT.FAILED);
  });
});
