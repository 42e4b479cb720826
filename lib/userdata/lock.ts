// libxl's file lock protocol (libxl__lock_file / libxl__unlock_file), so xl
// and xen-domconfig exclude each other on the same file:
//   open(O_RDWR|O_CREAT, 0666); flock(LOCK_EX); held only if stat(path) is
//   still the inode of the fd (a previous holder may have unlinked it while we
//   waited, another may have created a new one); release = unlink, then close.
//   A release may instead just close, leaving the file for the next holder:
//   the inode check passes on it, and creating and removing a file per
//   domain is most of what a lock costs (a list of 1000 domains makes 1000).
// Each step is one native call: a few non-blocking system calls on a local
// file, cheaper on this thread than a trip through the libuv pool. libxl
// blocks in flock(); here the wait is a non-blocking flock on the same fd
// retried on timers (1 ms growing to 20 ms), so the JS thread stays free and
// the wait honours a timeout and an AbortSignal.
import { closeSync } from 'node:fs';
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

export async function acquireFileLock(path: string, timeoutMs: number, signal: AbortSignal | undefined, domid: number): Promise<HeldFileLock> {
  /** Counted from the first busy attempt: an uncontended lock never reads the clock (nor loads perf_hooks). */
  let deadline: number | undefined;
  let backoff = FIRST_BACKOFF_MS;
  /** The fd of a busy attempt, kept open while waiting as libxl's blocked flock keeps it. */
  let waitingFd: number | undefined;
  try {
    for (;;) {
      if (signal?.aborted) throw new AbortError(signal);
      const fd = waitingFd;
      waitingFd = undefined; // the attempt owns it now: closed unless busy
      let attempt;
      try {
        attempt = native().tryLockFile(path, fd);
      } catch (error) {
        throw fileError(`cannot ${(error as NodeJS.ErrnoException).syscall ?? 'open'} lock file`, path, error, domid);
      }
      if (attempt.state === 'held') return { path, fd: attempt.fd };
      if (attempt.state === 'replaced') continue; // locked an unlinked or replaced file: start again on the current one
      waitingFd = attempt.fd;
      deadline ??= performance.now() + timeoutMs;
      const left = deadline - performance.now();
      if (left <= 0) throw new TemplateError('ELOCKTIMEOUT', `timed out after ${timeoutMs} ms waiting for lock ${path}`, { path, domid });
      await wait(Math.min(backoff, left), signal);
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
  } catch (error) {
    if (waitingFd !== undefined) closeSync(waitingFd);
    throw error;
  }
}

/**
 * Unlink before close: a waiter that wins flock on our fd then sees the path gone and retries.
 * With keepFile, close only: a waiter that wins flock on our fd holds the file, still at its path.
 */
export function releaseFileLock(lock: HeldFileLock, keepFile = false): void {
  try {
    if (keepFile) closeSync(lock.fd);
    else native().unlockFile(lock.path, lock.fd);
  } catch (error) {
    throw fileError(`cannot ${(error as NodeJS.ErrnoException).syscall ?? 'unlink'} lock file`, lock.path, error);
  }
}

async function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    if (signal?.aborted) throw new AbortError(signal);
    throw error;
  }
}
