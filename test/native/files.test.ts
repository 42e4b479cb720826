// The addon's one-call file steps (tryLockFile, unlockFile, readSmallFile):
// outcomes, fd ownership and Node-style errors. The lock protocol itself is
// tested across processes and against xl in test/userdata.
import { execFileSync } from 'node:child_process';
import { existsSync, fstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { native } from '../../lib/native.js';

let dir: string;
beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-native-files-')); });
afterEach(() => { rmSync(dir, { recursive: true, force: true }); });

const isOpen = (fd: number) => {
  try {
    fstatSync(fd);
    return true;
  } catch {
    return false;
  }
};

function failureOf(call: () => unknown): NodeJS.ErrnoException {
  try {
    call();
  } catch (error) {
    return error as NodeJS.ErrnoException;
  }
  throw new Error('expected a failure');
}

describe('tryLockFile and unlockFile', () => {
  it('creates the file 0666 (less the umask), holds it, and the release unlinks then closes', () => {
    const path = join(dir, 'lock');
    const attempt = native().tryLockFile(path);
    expect(attempt.state).toBe('held');
    const { fd } = attempt as { fd: number };
    expect(fstatSync(fd).ino).toBe(statSync(path).ino);
    expect(statSync(path).mode & 0o777).toBe(0o666 & ~process.umask());
    native().unlockFile(path, fd);
    expect(existsSync(path)).toBe(false);
    expect(isOpen(fd)).toBe(false);
  });

  it('busy while another description holds it: the fd stays open for the next attempt on it', () => {
    const path = join(dir, 'lock');
    const holder = native().tryLockFile(path);
    const waiter = native().tryLockFile(path);
    expect(waiter.state).toBe('busy');
    const waiterFd = (waiter as { fd: number }).fd;
    expect(isOpen(waiterFd)).toBe(true);
    expect(native().tryLockFile(path, waiterFd)).toEqual({ state: 'busy', fd: waiterFd });

    // libxl's release: the waiter then wins flock on an unlinked inode.
    native().unlockFile(path, (holder as { fd: number }).fd);
    expect(native().tryLockFile(path, waiterFd)).toEqual({ state: 'replaced' });
    expect(isOpen(waiterFd)).toBe(false);
  });

  it('replaced when the path names another inode by then', () => {
    const path = join(dir, 'lock');
    const holder = native().tryLockFile(path);
    const waiter = native().tryLockFile(path) as { fd: number };
    native().unlockFile(path, (holder as { fd: number }).fd);
    writeFileSync(path, ''); // a new holder's file
    expect(native().tryLockFile(path, waiter.fd)).toEqual({ state: 'replaced' });
    expect(isOpen(waiter.fd)).toBe(false);
    const again = native().tryLockFile(path) as { state: string; fd: number };
    expect(again.state).toBe('held');
    native().unlockFile(path, again.fd);
  });

  it('a release whose file is already gone only closes', () => {
    const path = join(dir, 'lock');
    const { fd } = native().tryLockFile(path) as { fd: number };
    unlinkSync(path);
    native().unlockFile(path, fd);
    expect(isOpen(fd)).toBe(false);
  });

  it('failures read like Node fs errors and close the given fd', () => {
    const missing = failureOf(() => native().tryLockFile(join(dir, 'no', 'lock')));
    expect(missing).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open', path: join(dir, 'no', 'lock') });
    expect(missing.message).toBe(`ENOENT: no such file or directory, open '${join(dir, 'no', 'lock')}'`);

    // A descriptor no process has: flock fails on it.
    expect(failureOf(() => native().tryLockFile(join(dir, 'lock'), 1_000_000))).toMatchObject({ code: 'EBADF', syscall: 'flock' });

    // unlink of a directory fails; the fd is closed all the same.
    const { fd: held } = native().tryLockFile(join(dir, 'lock')) as { fd: number };
    mkdirSync(join(dir, 'not-a-file'));
    expect(failureOf(() => native().unlockFile(join(dir, 'not-a-file'), held))).toMatchObject({ code: 'EISDIR', syscall: 'unlink', path: join(dir, 'not-a-file') });
    expect(isOpen(held)).toBe(false);
  });

  it('refuses bad arguments with TypeErrors', () => {
    const call = native().tryLockFile as (...args: unknown[]) => unknown;
    expect(() => call('')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => call('a\0b')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
    expect(() => call(3)).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(() => call('/tmp/x', -1)).toThrow(expect.objectContaining({ code: 'ERR_OUT_OF_RANGE' }));
    const unlock = native().unlockFile as (...args: unknown[]) => unknown;
    expect(() => unlock('/tmp/x')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
  });
});

describe('readSmallFile', () => {
  it('reads every byte, NULs and sizes beyond the first chunk included', () => {
    const bytes = Buffer.alloc(70_000, 'x');
    bytes[100] = 0;
    bytes[bytes.length - 1] = 0;
    writeFileSync(join(dir, 'f'), bytes);
    expect(native().readSmallFile(join(dir, 'f'), 1 << 20)).toEqual(bytes);
    writeFileSync(join(dir, 'empty'), '');
    expect(native().readSmallFile(join(dir, 'empty'), 10)).toEqual(Buffer.alloc(0));
  });

  it('EFBIG past maxBytes; exactly maxBytes is fine', () => {
    writeFileSync(join(dir, 'f'), Buffer.alloc(1000, 'y'));
    expect((native().readSmallFile(join(dir, 'f'), 1000)).length).toBe(1000);
    expect(failureOf(() => native().readSmallFile(join(dir, 'f'), 999))).toMatchObject({ code: 'EFBIG', path: join(dir, 'f') });
  });

  it('refuses symlinks, directories and FIFOs without blocking, and closes what it opened', () => {
    const openFds = readdirSync('/proc/self/fd').length;
    writeFileSync(join(dir, 'target'), 'data');
    symlinkSync(join(dir, 'target'), join(dir, 'link'));
    expect(failureOf(() => native().readSmallFile(join(dir, 'link'), 100))).toMatchObject({ code: 'ELOOP', syscall: 'open' });
    expect(failureOf(() => native().readSmallFile(dir, 100))).toMatchObject({ code: 'EISDIR', syscall: 'read' });
    execFileSync('mkfifo', [join(dir, 'fifo')]);
    expect(native().readSmallFile(join(dir, 'fifo'), 100)).toEqual(Buffer.alloc(0)); // no writer: at its end at once
    expect(failureOf(() => native().readSmallFile(join(dir, 'none'), 100))).toMatchObject({ code: 'ENOENT', errno: -2, syscall: 'open' });
    expect(readdirSync(dir).sort()).toEqual(['fifo', 'link', 'target']);
    expect(readdirSync('/proc/self/fd').length).toBe(openFds);
  });
});
