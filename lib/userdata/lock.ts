// libxl's file lock protocol (libxl__lock_file / libxl__unlock_file), so xl
// and xen-domconfig exclude each other on the same file:
//   open(O_RDWR|O_CREAT, 0666); flock(LOCK_EX); held only if stat(path) is
//   still the inode of the fd (a previous holder may have unlinked it while we
//   waited, another may have created a new one); release = unlink, then close.
// libxl blocks in flock(); here the wait is a non-blocking flock retried on
// timers (1 ms growing to 20 ms), so the JS thread stays free and the wait
// honours a timeout and an AbortSignal.
import { closeSync, constants, fstatSync, openSync, statSync, unlinkSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { native } from '../native.js';
import { AbortError } from '../xenstore/index.js';
import { TemplateError, fileError } from './errors.js';

export interface LockWaitOptions {
  /** Give up with ELOCKTIMEOUT after this long; 0 tries once; Infinity waits like libxl. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface HeldFileLock {
  readonly path: string;
  readonly fd: number;
}

const FIRST_BACKOFF_MS = 1;
const MAX_BACKOFF_MS = 20;
const LOCK_FILE_FLAGS = constants.O_RDWR | constants.O_CREAT;

export async function acquireFileLock(path: string, timeoutMs: number, signal: AbortSignal | undefined, domid: number): Promise<HeldFileLock> {
  const deadline = performance.now() + timeoutMs;
  let backoff = FIRST_BACKOFF_MS;
  for (;;) {
    if (signal?.aborted) throw new AbortError(signal);
    let fd: number;
    try {
      fd = openSync(path, LOCK_FILE_FLAGS, 0o666);
    } catch (error) {
      throw fileError('cannot open lock file', path, error, domid);
    }
    try {
      while (!native().flock(fd, 'ex-nb')) {
        const left = deadline - performance.now();
        if (left <= 0) {
          throw new TemplateError('ELOCKTIMEOUT', `timed out after ${timeoutMs} ms waiting for lock ${path}`, { path, domid });
        }
        await wait(Math.min(backoff, left), signal);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
      if (isCurrentFile(fd, path, domid)) return { path, fd };
    } catch (error) {
      closeSync(fd);
      throw error;
    }
    closeSync(fd); // locked an unlinked or replaced file: start again on the current one
  }
}

/** Unlink before close: a waiter that wins flock on our fd then sees the path gone and retries. */
export function releaseFileLock(lock: HeldFileLock): void {
  let unlinkError: unknown;
  try {
    unlinkSync(lock.path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') unlinkError = error;
  }
  closeSync(lock.fd);
  if (unlinkError) throw fileError('cannot unlink lock file', lock.path, unlinkError);
}

function isCurrentFile(fd: number, path: string, domid: number): boolean {
  const held = fstatSync(fd, { bigint: true });
  let current;
  try {
    current = statSync(path, { bigint: true, throwIfNoEntry: false });
  } catch (error) {
    throw fileError('cannot stat lock file', path, error, domid);
  }
  return current !== undefined && current.dev === held.dev && current.ino === held.ino;
}

async function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    if (signal?.aborted) throw new AbortError(signal);
    throw error;
  }
}
