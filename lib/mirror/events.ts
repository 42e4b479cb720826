// The mirror's event streams. A consumer that falls behind holds one pending
// change per domain (the entry it saw before), never a queue that grows, and
// gets the event from that entry to the current one when it reads.
import type { DomainFailure, LongListEntry } from '../domain/list.js';
import type { RetrievedDomain } from '../domain/retrieve.js';
import { jsonable } from '../util/json.js';
import { diffEntries, type PathChange } from './changes.js';

export type MirrorEvent =
  /** A domain's configuration is there: a new domain, or one that could not be retrieved before. */
  | { type: 'added'; domid: number; entry: RetrievedDomain }
  /** A domain's configuration changed; `changes` turn the previous entry into `entry`. */
  | { type: 'changed'; domid: number; entry: RetrievedDomain; changes: PathChange[] }
  /** The domain is gone. */
  | { type: 'removed'; domid: number }
  /** The domain cannot be retrieved (now, or for another reason than before), as a list reports it. */
  | { type: 'error'; domid: number; error: DomainFailure['error'] }
  /** Events may have been missed: until `current`, list() and get() may be behind. */
  | { type: 'stale'; reason: Error }
  /** Everything was watched and read again; what changed meanwhile was emitted before this. */
  | { type: 'current' };

export interface MirrorEventsOptions {
  /** Start with an `added` (or `error`) event for each domain already mirrored, once ready. */
  initial?: boolean;
}

/** What the streams read of the mirror when a consumer asks for its next event. */
export interface MirrorView {
  /** The mirror's ready promise. */
  ready(): Promise<void>;
  /** The domids mirrored, ascending. */
  domids(): number[];
  entry(domid: number): LongListEntry | undefined;
  /** The event of the mirror's state (stale or current), undefined while starting or closed. */
  stateEvent(): MirrorEvent | undefined;
}

/** One consumer's events not yet taken: per domain the entry it last saw, in order of last change. */
interface Subscriber {
  pending: Map<number | 'state', LongListEntry | undefined>;
  wake?: () => void;
  done: boolean;
}

export class MirrorSubscribers {
  readonly #view: MirrorView;
  readonly #subscribers = new Set<Subscriber>();

  constructor(view: MirrorView) {
    this.#view = view;
  }

  /** A stream of the changes from now on (`ended`: the mirror is closed, so it ends at once). */
  open(options: MirrorEventsOptions, ended: boolean): AsyncIterableIterator<MirrorEvent> {
    const view = this.#view;
    const subscriber: Subscriber = { pending: new Map(), done: ended };
    this.#subscribers.add(subscriber);
    let started = !options.initial;
    const end = (): IteratorResult<MirrorEvent> => {
      subscriber.done = true;
      subscriber.pending.clear();
      this.#subscribers.delete(subscriber);
      subscriber.wake?.(); // a next() still waiting ends too
      return { value: undefined, done: true };
    };
    const iterator: AsyncIterableIterator<MirrorEvent> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        if (!started) {
          started = true;
          await view.ready().catch(() => undefined);
          const queued = subscriber.pending;
          subscriber.pending = new Map(view.domids().map((domid) => [domid, undefined]));
          for (const [key, before] of queued) if (!subscriber.pending.has(key)) subscriber.pending.set(key, before);
        }
        for (;;) {
          for (const [key, before] of subscriber.pending) {
            subscriber.pending.delete(key);
            const event = key === 'state' ? view.stateEvent() : domainEvent(key, before, view.entry(key));
            if (event) return { value: jsonable(event), done: false };
          }
          if (subscriber.done) return end();
          await new Promise<void>((resolve) => { subscriber.wake = resolve; });
          subscriber.wake = undefined;
        }
      },
      return: async () => end(),
    };
    return iterator;
  }

  /** Tells every consumer that `key` changed; each keeps what it saw before its first pending change. */
  publish(key: number | 'state', before: LongListEntry | undefined): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.done) continue;
      const seen = subscriber.pending.has(key) ? subscriber.pending.get(key) : before;
      subscriber.pending.delete(key); // re-inserted last: events come in the order of last change
      subscriber.pending.set(key, seen);
      subscriber.wake?.();
    }
  }

  /** Ends every stream once its pending events are read. */
  endAll(): void {
    for (const subscriber of this.#subscribers) {
      subscriber.done = true;
      subscriber.wake?.();
    }
  }
}

/** The event from what a consumer last saw to what is now; undefined when they are the same. */
function domainEvent(domid: number, before: LongListEntry | undefined, now: LongListEntry | undefined): MirrorEvent | undefined {
  if (now === before) return undefined;
  if (!now) return before ? { type: 'removed', domid } : undefined;
  if ('error' in now) {
    if (before && 'error' in before && sameError(before.error, now.error)) return undefined;
    return { type: 'error', domid, error: now.error };
  }
  if (!before || 'error' in before) return { type: 'added', domid, entry: now };
  const changes = diffEntries(before, now);
  return changes.length === 0 ? undefined : { type: 'changed', domid, entry: now, changes };
}

function sameError(a: Error & { code?: string }, b: Error & { code?: string }): boolean {
  return a.code === b.code && a.message === b.message;
}
