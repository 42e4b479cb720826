// The mirror's xenstore watches, by owner (a domid, or 'host' for
// @introduceDomain and @releaseDomain) and path. Each watch's first event is
// the one xenstored sends for every new watch and is not a change; a watch that
// fails is a loss. Once dropAll() is called, nothing registered before reports.
import type { XenStore } from '../xenstore/index.js';

export type WatchOwner = number | 'host';

export class MirrorWatches {
  readonly #xenstore: Pick<XenStore, 'watch'>;
  readonly #onLost: (reason: Error) => void;
  readonly #byOwner = new Map<WatchOwner, Map<string, AsyncIterator<unknown>>>();
  /** Bumped by dropAll(): older watches' loops stop reporting. */
  #generation = 0;

  constructor(xenstore: Pick<XenStore, 'watch'>, onLost: (reason: Error) => void) {
    this.#xenstore = xenstore;
    this.#onLost = onLost;
  }

  has(owner: WatchOwner): boolean {
    return this.#byOwner.has(owner);
  }

  /** The paths watched for `owner`. */
  paths(owner: WatchOwner): Set<string> {
    return new Set(this.#byOwner.get(owner)?.keys());
  }

  /** Watches `path` for `owner` (once): onChange for each change after the first event. */
  watch(owner: WatchOwner, path: string, onChange: () => void): void {
    let paths = this.#byOwner.get(owner);
    if (!paths) this.#byOwner.set(owner, (paths = new Map()));
    if (paths.has(path)) return;
    const iterator = this.#xenstore.watch(path);
    paths.set(path, iterator);
    const generation = this.#generation;
    void (async () => {
      let first = true;
      try {
        for await (const _event of iterator) {
          if (first) first = false;
          else if (generation === this.#generation) onChange();
        }
      } catch (error) {
        if (generation === this.#generation) this.#onLost(error as Error);
      }
    })();
  }

  /** Ends the owner's watches but those in `keep`. */
  unwatch(owner: WatchOwner, keep: ReadonlySet<string> = new Set()): void {
    const paths = this.#byOwner.get(owner);
    if (!paths) return;
    for (const [path, iterator] of paths) {
      if (keep.has(path)) continue;
      paths.delete(path);
      void iterator.return?.();
    }
    if (paths.size === 0) this.#byOwner.delete(owner);
  }

  dropAll(): void {
    this.#generation++;
    for (const owner of [...this.#byOwner.keys()]) this.unwatch(owner);
  }
}
