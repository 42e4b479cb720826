// `xen-domconfig watch`: the mirror's change events, one line each — NDJSON
// with --json (for jq and collectors), a readable line otherwise. Standard
// output is written synchronously on Linux (pipes and files), so each line
// reaches the reader when its change is known. SIGINT and SIGTERM end the
// watch with the status a shell reports for them (130, 143); a reader that
// goes away ends it at the next line (main.ts: 141).
import { constants } from 'node:os';
import { formatDomainConfig } from '../config/index.js';
import type { XenHost } from '../host.js';
import type { MirrorEvent } from '../mirror/index.js';
import type { CommandContext } from './context.js';
import { EXIT, type ExitCode } from './errors.js';
import { jsonSafe } from '../util/json.js';

export interface WatchOptions {
  /** Only these domains' events (all when empty); state lines are always printed. */
  domids: readonly number[];
  /** Start with a line for each domain as it is now. */
  initial: boolean;
  json: boolean;
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export async function watchDomains(context: CommandContext, host: XenHost, options: WatchOptions): Promise<ExitCode> {
  const controller = new AbortController();
  let stoppedBy: NodeJS.Signals | undefined;
  const stop = (signal: NodeJS.Signals) => {
    stoppedBy = signal;
    controller.abort();
  };
  for (const signal of SIGNALS) process.once(signal, stop);
  const mirror = host.mirror({ signal: controller.signal });
  try {
    await mirror.ready;
    const wanted = new Set(options.domids);
    const line = options.json ? jsonLine : textLine;
    for await (const event of mirror.events({ initial: options.initial })) {
      if ('domid' in event && wanted.size > 0 && !wanted.has(event.domid)) continue;
      context.out(`${line(event)}\n`);
    }
  } catch (error) {
    if (!stoppedBy) throw error; // closed before it was ready: the signal is the news
  } finally {
    for (const signal of SIGNALS) process.removeListener(signal, stop);
    await mirror.close();
  }
  if (stoppedBy) process.exit(128 + constants.signals[stoppedBy]);
  return EXIT.OK;
}

/** One JSON object: the type, the domid, and the configuration as libxl-json, the changes, or the error. */
export function jsonLine(event: MirrorEvent): string {
  const time = new Date().toISOString();
  switch (event.type) {
    case 'added':
      return `{"type":"added","time":"${time}","domid":${event.domid},"config":${compactJson(formatDomainConfig(event.entry.config))}}`;
    case 'changed':
      return JSON.stringify({ type: 'changed', time, domid: event.domid, changes: event.changes }, jsonSafe);
    case 'error':
      return JSON.stringify({ type: 'error', time, domid: event.domid, code: event.error.code ?? null, message: event.error.message });
    case 'removed':
      return JSON.stringify({ type: 'removed', time, domid: event.domid });
    case 'stale':
      return JSON.stringify({ type: 'stale', time, code: (event.reason as { code?: string }).code ?? null, message: event.reason.message });
    case 'current':
      return JSON.stringify({ type: 'current', time });
  }
}

/** A line for people: what happened to which domain, each changed path with its old and new value. */
export function textLine(event: MirrorEvent): string {
  switch (event.type) {
    case 'added':
      return `added    ${event.domid} ${event.entry.config.c_info.name ?? ''}`.trimEnd();
    case 'changed':
      return `changed  ${event.domid} ${event.entry.config.c_info.name ?? ''}: ${event.changes
        .map((change) => `${change.path} ${shortValue(change.old)} -> ${shortValue(change.new)}`).join('; ')}`;
    case 'error':
      return `error    ${event.domid}: ${event.error.message}`;
    case 'removed':
      return `removed  ${event.domid}`;
    case 'stale':
      return `stale: ${event.reason.message} (changes may be missed until current)`;
    case 'current':
      return 'current: every domain read again';
  }
}

const MAX_VALUE_TEXT = 60;

function shortValue(value: unknown): string {
  if (value === undefined) return '(none)';
  const text = JSON.stringify(value, jsonSafe);
  return text.length > MAX_VALUE_TEXT ? `${text.slice(0, MAX_VALUE_TEXT - 3)}...` : text;
}

/** JSON text without the whitespace between tokens (strings kept as they are, so are 64-bit numbers). */
export function compactJson(text: string): string {
  return text.replace(/("(?:[^"\\]|\\.)*")|\s+/g, (_match, string: string | undefined) => string ?? '');
}
