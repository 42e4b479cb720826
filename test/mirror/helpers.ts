// Waiting on a mirror in tests: for an event, or for it to equal a fresh listing.
import { createConnection } from 'node:net';
import { formatDomainList } from '../../lib/config/index.js';
import type { XenHost } from '../../lib/host.js';
import type { LongListEntry } from '../../lib/domain/list.js';
import type { RetrievedDomain } from '../../lib/domain/retrieve.js';
import type { ConfigMirror, MirrorEvent } from '../../lib/mirror/index.js';

/** The next event that matches, the others skipped (the test's own timeout bounds the wait). */
export async function nextEvent(events: AsyncIterator<MirrorEvent>, matches: (event: MirrorEvent) => boolean): Promise<MirrorEvent> {
  for (;;) {
    const { value, done } = await events.next();
    if (done) throw new Error('the mirror ended');
    if (matches(value)) return value;
  }
}

/** What `list -l` prints of the entries (failures left out, as the CLI does). */
export function printed(entries: readonly LongListEntry[]): string {
  return formatDomainList(entries.filter((entry): entry is RetrievedDomain => 'config' in entry));
}

/** The entries as comparable text: the printed list plus each failure's domid and code. */
export function described(entries: readonly LongListEntry[]): string {
  const failures = entries.filter((entry) => 'error' in entry).map((entry) => `${entry.domid}:${(entry as { error: { code?: string } }).error.code}`);
  return `${printed(entries)}failures: ${failures.join(' ')}`;
}

/**
 * Waits until the mirror is current and equals a fresh listing of the host.
 * Writes already made have fired their watches; the mirror may still be
 * reading, so the comparison is retried while it is behind.
 */
export async function untilEqual(mirror: ConfigMirror, host: XenHost, pause = 5): Promise<string> {
  let fresh = '';
  for (let attempt = 0; attempt < 4000; attempt++) {
    fresh = described(await host.listDomains({ long: true }));
    if (mirror.state === 'current' && described(mirror.list()) === fresh) return fresh;
    await new Promise((resolve) => setTimeout(resolve, pause));
  }
  throw new Error(`the mirror (${mirror.state}) never matched the listing: ${firstDifference(described(mirror.list()), fresh)}`);
}

function firstDifference(ours: string, theirs: string): string {
  const a = ours.split('\n');
  const b = theirs.split('\n');
  const line = a.findIndex((text, i) => text !== b[i]);
  const at = line < 0 ? a.length : line;
  return `line ${at + 1}: mirror ${JSON.stringify(a.slice(at, at + 3))}, list -l ${JSON.stringify(b.slice(at, at + 3))}`;
}

/**
 * XS_INTRODUCE (8) or XS_RELEASE (9) of a domain on its own connection, as the
 * toolstack's create and xenstored's domain cleanup do: they fire
 * @introduceDomain and @releaseDomain (the fake hypervisor maps any ring).
 */
export function introduceOrRelease(socketPath: string, type: 'introduce' | 'release', domid: number): Promise<void> {
  const args = type === 'introduce' ? [String(domid), '1', '7'] : [String(domid)];
  const payload = Buffer.from(args.map((arg) => `${arg}\0`).join(''), 'latin1');
  const header = Buffer.alloc(16);
  header.writeUInt32LE(type === 'introduce' ? 8 : 9, 0);
  header.writeUInt32LE(1, 4);
  header.writeUInt32LE(payload.length, 12);
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath);
    let reply = Buffer.alloc(0);
    socket.on('data', (chunk) => {
      reply = Buffer.concat([reply, chunk]);
      if (reply.length < 16 || reply.length < 16 + reply.readUInt32LE(12)) return;
      socket.destroy();
      const text = reply.subarray(16).toString('latin1');
      if (reply.readUInt32LE(0) === 16) reject(new Error(`xenstored refused ${type} of domain ${domid}: ${text}`));
      else resolve();
    });
    socket.on('error', reject);
    socket.write(Buffer.concat([header, payload]));
  });
}
