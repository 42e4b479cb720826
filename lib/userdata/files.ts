// Template file I/O. A write goes to the temporary file, which is renamed over
// the data file: readers and a killed writer see the old or the new content,
// never a part. Like libxl, nothing is fsync'ed: the page cache outlives any
// process, and only a host crash could lose a write — which ends every domain,
// whose template matters only while it runs. The temporary name is libxl's
// fixed userdata-n name, opened with O_TRUNC like libxl, so one left by a
// killed writer is reused, never piled up. The write's five system calls are
// made synchronously: on the page cache they take microseconds together,
// where five trips through the libuv pool take a millisecond.
import { closeSync, constants, fchmodSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { native } from '../native.js';
import { TemplateError, fileError } from './errors.js';

/** Refuses to load anything larger: a libxl-json template is a few KiB. */
export const MAX_TEMPLATE_BYTES = 16 * 1024 * 1024;

const TEMPORARY_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW;
const utf8 = new TextDecoder('utf-8', { fatal: true });

export async function writeFileAtomically(data: string, temporary: string, bytes: Uint8Array, domid: number): Promise<void> {
  let fd;
  try {
    fd = openSync(temporary, TEMPORARY_FLAGS, 0o600);
  } catch (error) {
    throw fileError('cannot create', temporary, error, domid);
  }
  try {
    fchmodSync(fd, 0o600); // a stale temporary may have other bits
    for (let written = 0; written < bytes.length;) written += writeSync(fd, bytes, written);
  } catch (error) {
    closeSync(fd);
    unlinkQuietly(temporary);
    throw fileError('cannot write', temporary, error, domid);
  }
  closeSync(fd);
  try {
    renameSync(temporary, data);
  } catch (error) {
    unlinkQuietly(temporary);
    throw fileError('cannot rename onto', data, error, domid);
  }
}

function unlinkQuietly(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    // already gone, or the folder refuses: the next write reuses the name
  }
}

/** The file's bytes as stored (libxl's trailing NUL included), in one native call. */
export async function readFileBytes(path: string, domid: number): Promise<Buffer> {
  try {
    return native().readSmallFile(path, MAX_TEMPLATE_BYTES);
  } catch (error) {
    switch ((error as NodeJS.ErrnoException).code) {
      case 'ENOENT':
        throw await missingTemplate(path, domid, error);
      case 'EFBIG':
        throw new TemplateError('ECORRUPT', `template ${path} is more than the ${MAX_TEMPLATE_BYTES} bytes accepted`, { path, domid });
      default:
        throw fileError(`cannot ${(error as NodeJS.ErrnoException).syscall ?? 'read'}`, path, error, domid);
    }
  }
}

/**
 * UTF-8 text of template bytes without libxl's trailing NUL, or the reason
 * they are no template: empty, a NUL inside, or not UTF-8.
 */
export function decodeTemplate(bytes: Uint8Array): { text: string } | { problem: string } {
  const end = bytes.length > 0 && bytes[bytes.length - 1] === 0 ? bytes.length - 1 : bytes.length;
  if (end === 0) return { problem: 'is empty' };
  const nul = bytes.indexOf(0);
  if (nul >= 0 && nul < end) return { problem: `has a NUL byte at offset ${nul}` };
  try {
    return { text: utf8.decode(bytes.subarray(0, end)) };
  } catch {
    return { problem: 'is not valid UTF-8' };
  }
}

/** Content to store: the text and one terminating NUL, as libxl writes it. */
export function templateBytes(content: string | Uint8Array): Uint8Array {
  const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
  if (bytes.length > 0 && bytes[bytes.length - 1] === 0) return bytes;
  const terminated = new Uint8Array(bytes.length + 1);
  terminated.set(bytes);
  return terminated;
}

// ENOENT means "no template" only when the directory itself is there.
async function missingTemplate(path: string, domid: number, error: unknown): Promise<Error> {
  const dir = dirname(path);
  const dirStat = await stat(dir).catch((statError: unknown) => statError as Error);
  if (dirStat instanceof Error) return fileError('cannot open userdata directory', dir, dirStat, domid);
  if (!dirStat.isDirectory()) return new TemplateError('ENOTDIR', `userdata directory ${dir} is not a directory`, { path: dir, domid });
  return new TemplateError('ENOTEMPLATE', `domain ${domid} has no template (${path} does not exist)`, { path, domid, cause: error });
}
