// The bad-input corpus of the library's entry points, against a private real
// xenstored: each bad call rejects (or throws) a typed error, an Error with a
// string `code`, and leaves the userdata folder and xenstore as they were.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDevice, parseDomainConfig, parseDomainList, type DomainConfig } from '../../lib/config/index.js';
import { XenHost } from '../../lib/host.js';
import { TemplateStore } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir, templateFor } from '../domain/fixture.js';
import { hostSnapshot, withoutLockFiles } from '../harness/snapshot.js';
import { useLocalXenstored } from '../harness/xenstored.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;
let host: XenHost;
let templates: TemplateStore;

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  await createDomain(store, userdata.dir, { domid: 1, name: 'good', type: 'pv' });
  host = new XenHost({ xenstore: store, userdataDir: userdata.dir, runHotplugScripts: false });
  templates = host.templates;
  await host.retrieveDomainConfiguration(1); // keeps the lock file a later retrieve would keep
});

afterAll(async () => {
  await host?.close();
  await store?.close();
  userdata.remove();
});

const BAD_DOMIDS: unknown[] = [-1, 1.5, NaN, Infinity, 0x7ff0, 2 ** 40, '1', null, undefined, {}];
const configOf = (): DomainConfig => templateFor({ domid: 1, name: 'good', type: 'pv' });

/** [name, call, the code it rejects with (a pattern)]. */
const CASES: [string, () => unknown, RegExp][] = [
  ...BAD_DOMIDS.flatMap((domid): [string, () => unknown, RegExp][] => [
    [`retrieveDomainConfiguration(${String(domid)})`, () => host.retrieveDomainConfiguration(domid as number), /^(EINVAL|EBADDOMID|ENODOMAIN)$/],
    [`diffDomainConfiguration(${String(domid)})`, () => host.diffDomainConfiguration(domid as number), /^(EINVAL|EBADDOMID|ENODOMAIN)$/],
    [`storeDomainConfiguration(${String(domid)})`, () => host.storeDomainConfiguration(domid as number, configOf()), /^(EINVAL|EBADDOMID)$/],
    [`addDevice(${String(domid)})`, () => host.addDevice(domid as number, 'disk', { pdev_path: '/dev/null', vdev: 'xvdc' }), /^(EINVAL|EBADDOMID|ENODOMAIN)$/],
    [`removeDevice(${String(domid)})`, () => host.removeDevice(domid as number, 'disk', 'xvdc'), /^(EINVAL|EBADDOMID|ENODOMAIN)$/],
    [`templates.read(${String(domid)})`, () => templates.read(domid as number), /^(EINVAL|EBADDOMID)$/],
    [`templates.write(${String(domid)})`, () => templates.write(domid as number, '{}'), /^(EINVAL|EBADDOMID)$/],
  ]),
  ['listDomains({ concurrency: 0 })', () => host.listDomains({ concurrency: 0 }), /^ERR_OUT_OF_RANGE$/],
  ['listDomains({ long: true, concurrency: -1 })', () => host.listDomains({ long: true, concurrency: -1 }), /^ERR_OUT_OF_RANGE$/],
  ['retrieve with lockTimeoutMs -1', () => host.retrieveDomainConfiguration(1, { lockTimeoutMs: -1 }), /^EINVAL$/],
  ['retrieve with lockTimeoutMs NaN', () => host.retrieveDomainConfiguration(1, { lockTimeoutMs: NaN }), /^EINVAL$/],
  ['retrieve with an aborted signal', () => host.retrieveDomainConfiguration(1, { signal: AbortSignal.abort() }), /^ABORT_ERR$/],
  ['addDevice of an unknown kind', () => host.addDevice(1, 'floppy' as never, {}), /^(EINVAL|ENODEV|EUNKNOWNKIND)$/],
  ['addDevice of a disk without a vdev', () => host.addDevice(1, 'disk', { pdev_path: '/dev/null' }), /^E/],
  ['addDevice of a disk with a numeric vdev', () => host.addDevice(1, 'disk', { pdev_path: '/dev/null', vdev: 5 as unknown as string }), /^E/],
  ['addDevice of a disk with a hostile vdev', () => host.addDevice(1, 'disk', { pdev_path: '/dev/null', vdev: '../../x' }), /^E/],
  ['addDevice of a nic with devid 2^40', () => host.addDevice(1, 'nic', { devid: 2 ** 40 }), /^E/],
  ['removeDevice of an unknown disk', () => host.removeDevice(1, 'disk', 'xvdz'), /^ENODEV$/],
  ['removeDevice by an object', () => host.removeDevice(1, 'disk', {} as unknown as string), /^E/],
  ['storeDomainConfiguration of {}', () => host.storeDomainConfiguration(1, {} as DomainConfig), /^EINVAL$/],
  ['storeDomainConfiguration of null', () => host.storeDomainConfiguration(1, null as unknown as DomainConfig), /^EINVAL$/],
  ['storeDomainConfiguration of a wrong-typed key', () => host.storeDomainConfiguration(1, parseDomainConfig('{"b_info": {"max_memkb": "lots"}}')), /^ERR_CONFIG$/],
  ['templates.write of an empty string', () => templates.write(1, ''), /^EINVAL$/],
  ['templates.write of 17 MiB', () => templates.write(1, `{"x":"${'x'.repeat(17 * 1024 * 1024)}"}`), /^EINVAL$/],
  ['templates.read with a malformed uuid', () => templates.read(1, { uuid: '../../etc' }), /^EBADUUID$/],
  ['templates.lock with timeout -5', () => templates.lock(1, { timeoutMs: -5 }), /^EINVAL$/],
  ['xenstore read of a relative path', () => store.read('local/domain'), /^EINVAL$/],
  ['xenstore read of a 5000-byte path', () => store.read(`/${'p'.repeat(5000)}`), /^(EINVAL|E2BIG)$/],
  ['xenstore write of a 5000-byte value', () => store.write('/local/domain/1/x', 'v'.repeat(5000)), /^E2BIG$/],
  ['xenstore write with a NUL in the path', () => store.write('/local/domain/1/a\0b', 'v'), /^EINVAL$/],
  ['xenstore readMany of a non-array', () => store.readMany('/local' as unknown as string[]), /^(EINVAL|ERR_INVALID_ARG_TYPE)$/],
  ['parseDomainConfig of a number', () => parseDomainConfig('42'), /^ERR_CONFIG$/],
  ['parseDomainConfig nested 100000 deep', () => parseDomainConfig(`{"c_info": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`), /^ERR_CONFIG$/],
  ['parseDomainConfig of invalid UTF-8', () => parseDomainConfig(new Uint8Array([0x7b, 0xff, 0x7d])), /^ERR_CONFIG$/],
  ['parseDomainList of an object', () => parseDomainList('{}'), /^ERR_CONFIG$/],
  ['parseDevice of an unknown kind', () => parseDevice('floppy' as 'disk', '{}'), /^ERR/],
  ['parseDevice of a disk with a bad enum', () => parseDevice('disk', '{"format": "exotic"}'), /^ERR_CONFIG$/],
];

describe.concurrent('library entry points refuse bad input with a typed error and change nothing', () => {
  it.each(CASES)('%s', async (_name, call, code) => {
    const before = await hostSnapshot(store, userdata.dir);
    let caught: unknown;
    try {
      await call();
    } catch (error) {
      caught = error;
    }
    const after = await hostSnapshot(store, userdata.dir);
    expect(caught, 'it must fail').toBeInstanceOf(Error);
    expect(String((caught as { code?: unknown }).code), (caught as Error).message).toMatch(code);
    expect((caught as Error).message.split('\n')).toHaveLength(1);
    expect(after.xenstore).toBe(before.xenstore);
    expect(withoutLockFiles(after.folder)).toEqual(withoutLockFiles(before.folder));
  });
});
