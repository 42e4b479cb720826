// TemplateStore against a real xenstored: libxl's file names, atomic
// writes, typed errors for bad input, the lock's timeout/abort/domain checks
// and libxl's destroy-time cleanup.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MAX_TEMPLATE_BYTES, TemplateStore } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { spawnChild } from './child.js';

const xsd = useLocalXenstored();
const DOMID = 7;
const UUID = '6c0f1f1e-1b2a-4c3d-8e9f-0a1b2c3d4e5f';
const TEMPLATE = '{"c_info":{"type":"pv","name":"guest7","uuid":"6c0f1f1e-1b2a-4c3d-8e9f-0a1b2c3d4e5f"},"b_info":{"max_vcpus":1}}';

let xs: XenStore;
let dir: string;
let store: TemplateStore;

beforeAll(() => { xs = XenStore.open({ path: xsd.current.socketPath }); });
afterAll(async () => { await xs?.close(); });
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-userdata-'));
  store = new TemplateStore({ xenstore: xs, dir });
  await xs.write(`/local/domain/${DOMID}/vm`, `/vm/${UUID}`);
});
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

async function codeOf(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

describe('paths', () => {
  it('are libxl\'s file names', () => {
    expect(store.paths(DOMID, UUID)).toEqual({
      data: join(dir, `userdata-d.7.${UUID}.libxl-json`),
      temporary: join(dir, `userdata-n.7.${UUID}.libxl-json`),
      lock: join(dir, `userdata-l.7.${UUID}.domain-userdata-lock`),
    });
  });

  it('default to /var/lib/xen', () => {
    expect(new TemplateStore({ xenstore: xs }).paths(0, UUID).data).toBe(`/var/lib/xen/userdata-d.0.${UUID}.libxl-json`);
  });

  it('come from the uuid in /local/domain/<domid>/vm', async () => {
    expect(await store.domainUuid(DOMID)).toBe(UUID);
  });
});

describe('bad input', () => {
  it.each([['"7"', '7'], ['-1', -1], ['0x7FF0', 0x7ff0], ['1.5', 1.5], ['NaN', NaN], ['undefined', undefined]])(
    'domid %s is EBADDOMID everywhere, nothing written', async (_label, domid) => {
      const bad = domid as unknown as number;
      expect(() => store.paths(bad, UUID)).toThrow(expect.objectContaining({ code: 'EBADDOMID' }));
      for (const operation of [
        () => store.domainUuid(bad), () => store.readText(bad, { uuid: UUID }), () => store.read(bad),
        () => store.write(bad, TEMPLATE, { uuid: UUID }), () => store.lock(bad, { uuid: UUID }), () => store.removeAll(bad),
      ]) {
        expect(await codeOf(operation())).toBe('EBADDOMID');
      }
      expect(readdirSync(dir)).toEqual([]);
    });

  it.each(['/vm/../../etc', '/vm/6C0F1F1E-1B2A-4C3D-8E9F-0A1B2C3D4E5F', `/vm/${UUID}/..`, `/vm/${UUID}\n`, UUID, '', '/vm/'])(
    'a hostile vm node %j is EBADUUID, nothing written', async (vm) => {
      await xs.write(`/local/domain/${DOMID}/vm`, vm);
      expect(await codeOf(store.domainUuid(DOMID))).toBe('EBADUUID');
      expect(await codeOf(store.write(DOMID, TEMPLATE))).toBe('EBADUUID');
      expect(await codeOf(store.lock(DOMID, { timeoutMs: 0 }))).toBe('EBADUUID');
      expect(await codeOf(store.readText(DOMID))).toBe('EBADUUID');
      expect(readdirSync(dir)).toEqual([]);
    });

  it('a malformed uuid option is EBADUUID', async () => {
    expect(await codeOf(store.write(DOMID, TEMPLATE, { uuid: '../../etc/passwd' }))).toBe('EBADUUID');
    expect(() => store.paths(DOMID, 'x')).toThrow(expect.objectContaining({ code: 'EBADUUID' }));
    expect(readdirSync(dir)).toEqual([]);
  });

  it('a domain without a vm node is ENODOMAIN', async () => {
    expect(await codeOf(store.domainUuid(4321))).toBe('ENODOMAIN');
    expect(await codeOf(store.lock(4321))).toBe('ENODOMAIN');
  });

  it('dom0 without a vm node has the nil uuid; another domain without one is ENOUUID and, given its uuid, can be locked and written', async () => {
    await xs.write('/local/domain/0/name', 'Domain-0');
    expect(await store.domainUuid(0)).toBe('00000000-0000-0000-0000-000000000000');
    await store.withLock(0, () => store.write(0, TEMPLATE));
    expect(readdirSync(dir)).toEqual(['userdata-d.0.00000000-0000-0000-0000-000000000000.libxl-json']);
    expect(await store.readText(0)).toBe(TEMPLATE);

    await xs.write('/local/domain/8/name', 'no-vm');
    expect(await codeOf(store.domainUuid(8))).toBe('ENOUUID');
    await store.withLock(8, () => store.write(8, TEMPLATE, { uuid: UUID }), { uuid: UUID });
    expect(await store.readText(8, { uuid: UUID })).toBe(TEMPLATE);
    await xs.rm('/local/domain/8');
  });

  it('empty content, a NUL inside or invalid UTF-8 is refused (EINVAL), nothing written', async () => {
    for (const content of ['', '\0', '{"a":1}\0{"b":2}', Buffer.from([0x7b, 0xff, 0x7d])]) {
      expect(await codeOf(store.write(DOMID, content, { uuid: UUID }))).toBe('EINVAL');
    }
    expect(readdirSync(dir)).toEqual([]);
  });

  it('content larger than a read accepts is refused (EINVAL), the stored template intact', async () => {
    await store.write(DOMID, TEMPLATE, { uuid: UUID });
    const large = `${TEMPLATE.slice(0, -1)},"padding":"${'x'.repeat(MAX_TEMPLATE_BYTES)}"}`;
    expect(await codeOf(store.write(DOMID, large, { uuid: UUID }))).toBe('EINVAL');
    expect(await store.readText(DOMID, { uuid: UUID })).toBe(TEMPLATE);
    expect(readdirSync(dir)).toEqual([`userdata-d.7.${UUID}.libxl-json`]);
  });

  it('a userdata dir that does not exist: ENOENT, nothing created', async () => {
    const missing = join(dir, 'missing');
    const other = new TemplateStore({ xenstore: xs, dir: missing });
    expect(await codeOf(other.write(DOMID, TEMPLATE))).toBe('ENOENT');
    expect(await codeOf(other.readText(DOMID))).toBe('ENOENT');
    expect(await codeOf(other.lock(DOMID, { timeoutMs: 0 }))).toBe('ENOENT');
    expect(await codeOf(other.removeAll(DOMID))).toBe('ENOENT');
    expect(existsSync(missing)).toBe(false);
  });

  it('a file in place of the userdata dir: ENOTDIR, file untouched', async () => {
    const file = join(dir, 'file');
    writeFileSync(file, 'not a directory');
    const other = new TemplateStore({ xenstore: xs, dir: file });
    expect(await codeOf(other.write(DOMID, TEMPLATE))).toBe('ENOTDIR');
    expect(await codeOf(other.readText(DOMID))).toBe('ENOTDIR');
    expect(await codeOf(other.lock(DOMID, { timeoutMs: 0 }))).toBe('ENOTDIR');
    expect(readFileSync(file, 'utf8')).toBe('not a directory');
  });

  it.skipIf(process.getuid?.() !== 0)('a userdata dir the process cannot write: EACCES, nothing written', async () => {
    chmodSync(dir, 0o755); // root-owned; the child drops to nobody
    const child = spawnChild('unprivileged-write.ts', [xsd.current.socketPath, dir, String(DOMID), UUID]);
    expect(JSON.parse(await child.nextLine())).toEqual({ write: 'EACCES', lock: 'EACCES' });
    await child.exited;
    expect(readdirSync(dir)).toEqual([]);
  });

  it('errors name the file and carry errno and syscall', async () => {
    const missing = new TemplateStore({ xenstore: xs, dir: join(dir, 'nope') });
    const failure = await missing.write(DOMID, TEMPLATE, { uuid: UUID }).then(() => undefined, (e: unknown) => e);
    expect(failure).toMatchObject({
      name: 'TemplateError', code: 'ENOENT', syscall: 'open', domid: DOMID,
      path: join(dir, 'nope', `userdata-n.7.${UUID}.libxl-json`),
    });
    expect((failure as Error).message).toContain(join(dir, 'nope', `userdata-n.7.${UUID}.libxl-json`));
  });
});

describe('read and write', () => {
  it('stores the text NUL-terminated, mode 0600, no temporary left', async () => {
    await store.write(DOMID, TEMPLATE);
    const { data } = store.paths(DOMID, UUID);
    expect(readFileSync(data)).toEqual(Buffer.from(`${TEMPLATE}\0`));
    expect(statSync(data).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([`userdata-d.7.${UUID}.libxl-json`]);
    expect(await store.readText(DOMID)).toBe(TEMPLATE);
    expect(await store.readBytes(DOMID)).toEqual(Buffer.from(`${TEMPLATE}\0`));
  });

  it('stores text that already ends in NUL once', async () => {
    await store.write(DOMID, `${TEMPLATE}\0`);
    expect(readFileSync(store.paths(DOMID, UUID).data)).toEqual(Buffer.from(`${TEMPLATE}\0`));
  });

  it('reads files without the NUL as well', async () => {
    writeFileSync(store.paths(DOMID, UUID).data, TEMPLATE);
    expect(await store.readText(DOMID)).toBe(TEMPLATE);
  });

  it('a missing file is ENOTEMPLATE', async () => {
    const error = await store.readText(DOMID).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENOTEMPLATE', domid: DOMID, path: store.paths(DOMID, UUID).data });
    expect(await codeOf(store.read(DOMID))).toBe('ENOTEMPLATE');
  });

  it.each([['empty', ''], ['a lone NUL', '\0'], ['a NUL inside', '{"a"\0:1}\0'], ['not UTF-8', Buffer.from([0x7b, 0xc3, 0x28, 0x7d, 0])]])(
    'a file that is %s is ECORRUPT naming the file', async (_label, content) => {
      const { data } = store.paths(DOMID, UUID);
      writeFileSync(data, content);
      const error = await store.readText(DOMID).then(() => undefined, (e: unknown) => e);
      expect(error).toMatchObject({ code: 'ECORRUPT', path: data });
      expect((error as Error).message).toContain(data);
    });

  it('a file that is not a domain config: read() is ECORRUPT with the ConfigError as cause', async () => {
    writeFileSync(store.paths(DOMID, UUID).data, '{"c_info": [}\0');
    const error = await store.read(DOMID).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ code: 'ECORRUPT', path: store.paths(DOMID, UUID).data });
    expect((error as Error).cause).toMatchObject({ name: 'ConfigError' });
  });

  it('typed write and read go through the codec', async () => {
    await store.write(DOMID, TEMPLATE);
    const config = await store.read(DOMID);
    await store.write(DOMID, config);
    expect(await store.read(DOMID)).toEqual(config);
    expect(readFileSync(store.paths(DOMID, UUID).data).at(-1)).toBe(0);
  });

  it('a stale temporary from a killed writer is overwritten and gone after the next write', async () => {
    const { temporary, data } = store.paths(DOMID, UUID);
    writeFileSync(temporary, 'half a templ', { mode: 0o644 });
    await store.write(DOMID, TEMPLATE);
    expect(existsSync(temporary)).toBe(false);
    expect(statSync(data).mode & 0o777).toBe(0o600);
    expect(await store.readText(DOMID)).toBe(TEMPLATE);
  });

  it('a write replaces the file atomically (new inode, old one intact for open readers)', async () => {
    await store.write(DOMID, '{"v":1}');
    const { data } = store.paths(DOMID, UUID);
    const before = statSync(data).ino;
    await store.write(DOMID, '{"v":2}');
    expect(statSync(data).ino).not.toBe(before);
    expect(await store.readText(DOMID)).toBe('{"v":2}');
  });
});

describe('lock', () => {
  it('creates libxl\'s lock file while held and unlinks it on release', async () => {
    const release = await store.lock(DOMID);
    const { lock } = store.paths(DOMID, UUID);
    expect(existsSync(lock)).toBe(true);
    await release();
    await release(); // idempotent
    expect(existsSync(lock)).toBe(false);
  });

  it('keepLockFile: the release only closes, and the next holder locks the file it left', async () => {
    const { lock } = store.paths(DOMID, UUID);
    await (await store.lock(DOMID))({ keepLockFile: true });
    const kept = statSync(lock).ino;
    const release = await store.lock(DOMID, { timeoutMs: 0 });
    expect(statSync(lock).ino).toBe(kept);
    expect(await codeOf(store.lock(DOMID, { timeoutMs: 0 }))).toBe('ELOCKTIMEOUT'); // it still excludes
    await release();
    expect(existsSync(lock)).toBe(false);
  });

  it('a second holder in the same process times out (ELOCKTIMEOUT), then gets it after release', async () => {
    const release = await store.lock(DOMID);
    const error = await store.lock(DOMID, { timeoutMs: 50 }).then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'TemplateError', code: 'ELOCKTIMEOUT', path: store.paths(DOMID, UUID).lock });
    expect(await codeOf(store.lock(DOMID, { timeoutMs: 0 }))).toBe('ELOCKTIMEOUT');
    const waiting = store.lock(DOMID, { timeoutMs: 10_000 });
    await release();
    const second = await waiting;
    expect(existsSync(store.paths(DOMID, UUID).lock)).toBe(true);
    await second();
  });

  it('a wait is cancelled by its AbortSignal (AbortError), and the held lock stays intact', async () => {
    const release = await store.lock(DOMID);
    const controller = new AbortController();
    const waiting = store.lock(DOMID, { timeoutMs: 60_000, signal: controller.signal });
    setTimeout(() => controller.abort(new Error('user gave up')), 30);
    const error = await waiting.then(() => undefined, (e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: new Error('user gave up') });
    expect(existsSync(store.paths(DOMID, UUID).lock)).toBe(true);
    expect(await codeOf(store.lock(DOMID, { signal: AbortSignal.abort() }))).toBe('ABORT_ERR');
    await release();
  });

  it('the JS thread keeps running while a lock is awaited', async () => {
    const release = await store.lock(DOMID);
    const waiting = store.lock(DOMID, { timeoutMs: 10_000 });
    let ticks = 0;
    for (let i = 0; i < 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      ticks++;
    }
    expect(ticks).toBe(5);
    await release();
    await (await waiting)();
  });

  it('a domain destroyed during the wait: ENODOMAIN, lock file released', async () => {
    const release = await store.lock(DOMID);
    const waiting = codeOf(store.lock(DOMID, { timeoutMs: 10_000 }));
    await new Promise((resolve) => setTimeout(resolve, 20)); // it has read the uuid and waits on flock
    await xs.rm(`/local/domain/${DOMID}`);
    await release();
    expect(await waiting).toBe('ENODOMAIN');
    expect(existsSync(store.paths(DOMID, UUID).lock)).toBe(false);
  });

  it('a domid reused by a new domain during the wait: ENODOMAIN', async () => {
    const release = await store.lock(DOMID);
    const waiting = codeOf(store.lock(DOMID, { timeoutMs: 10_000 }));
    await new Promise((resolve) => setTimeout(resolve, 20)); // it has read the uuid and waits on flock
    await xs.write(`/local/domain/${DOMID}/vm`, '/vm/00000000-0000-4000-8000-000000000042');
    await release();
    expect(await waiting).toBe('ENODOMAIN');
  });

  it('checkDomain: false leaves the check to the caller (who reads the vm node under the lock anyway)', async () => {
    const release = await store.lock(DOMID);
    const waiting = store.lock(DOMID, { timeoutMs: 10_000, checkDomain: false });
    await new Promise((resolve) => setTimeout(resolve, 20));
    await xs.write(`/local/domain/${DOMID}/vm`, '/vm/00000000-0000-4000-8000-000000000043');
    await release();
    await (await waiting)();
    await xs.write(`/local/domain/${DOMID}/vm`, `/vm/${UUID}`);
  });

  it('withLock releases when fn throws', async () => {
    await expect(store.withLock(DOMID, () => { throw new Error('boom'); })).rejects.toThrow('boom');
    expect(existsSync(store.paths(DOMID, UUID).lock)).toBe(false);
    expect(await store.withLock(DOMID, async () => 42, { timeoutMs: 0 })).toBe(42);
  });

  it('a bad timeout is EINVAL', async () => {
    expect(await codeOf(store.lock(DOMID, { timeoutMs: -1 }))).toBe('EINVAL');
    expect(await codeOf(store.lock(DOMID, { timeoutMs: NaN }))).toBe('EINVAL');
  });
});

describe('removeAll', () => {
  it('removes every userdata file of the domid except the domain-userdata lock, like libxl\'s destroy', async () => {
    const otherUuid = '11111111-2222-4333-8444-555555555555';
    const names = [
      `userdata-d.7.${UUID}.libxl-json`, `userdata-n.7.${UUID}.libxl-json`, `userdata-d.7.${UUID}.xl`,
      `userdata-l.7.${UUID}.libxl-device-changes-lock`, `userdata-d.7.${otherUuid}.libxl-json`,
      `userdata-l.7.${UUID}.domain-userdata-lock`, `userdata-l.7.${otherUuid}.domain-userdata-lock`,
      `userdata-d.70.${UUID}.libxl-json`, `userdata-d.17.${UUID}.libxl-json`, `userdata-d.07.${UUID}.libxl-json`,
      'userdata-d.7.not-a-uuid.libxl-json', 'unrelated',
    ];
    for (const name of names) writeFileSync(join(dir, name), 'x');
    mkdirSync(join(dir, 'subdir'));
    const release = await store.lock(DOMID);
    const removed = await store.removeAll(DOMID);
    expect(removed.sort()).toEqual(names.slice(0, 5).map((name) => join(dir, name)).sort());
    expect(readdirSync(dir).sort()).toEqual([...names.slice(5), 'subdir'].sort());
    await release();
    expect(existsSync(join(dir, `userdata-l.7.${UUID}.domain-userdata-lock`))).toBe(false);
  });
});
