// Waiting on a mirror in tests: for an event, or for it to equal a fresh listing.
import { formatDomainList } from '../../lib/config/index.js';
import type { XenHost } from '../../lib/domain/host.js';
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
