// What changed between two retrievals of a domain, as JSON paths in the
// style of ConfigError's (`config.b_info.target_memkb`, `config.disks[1].vdev`)
// with the old and the new value, and the inverse: applying such changes to
// the earlier retrieval gives the later one.
import { cloneDomainConfig, domainConfigEquals, unknownKeysOf } from '../config/index.js';
import type { RetrievedDomain } from '../domain/retrieve.js';

export interface PathChange {
  /** From the entry's root: `config.…` or `devices.…`. */
  path: string;
  /** undefined: the path did not exist before (an array grew, a key appeared). */
  old: unknown;
  /** undefined: the path exists no more (an array shrank, a key went). */
  new: unknown;
}

/** What diffEntries compares and applyChanges patches: a retrieved domain or a mirror entry. */
export type Diffable = Pick<RetrievedDomain, 'config' | 'devices'>;

/** The changes that turn `before` into `after`, parents before children, array items in index order. */
export function diffEntries(before: Diffable, after: Diffable): PathChange[] {
  const changes: PathChange[] = [];
  diffValue(before.config, after.config, 'config', changes);
  diffValue(before.devices, after.devices, 'devices', changes);
  return changes;
}

function diffValue(a: unknown, b: unknown, path: string, out: PathChange[]): void {
  if (a === b) return;
  if (Array.isArray(a) && Array.isArray(b)) {
    for (let i = 0; i < Math.max(a.length, b.length); i++) diffValue(a[i], b[i], `${path}[${i}]`, out);
    return;
  }
  if (isRecord(a) && isRecord(b)) {
    // Keys libxl-json does not know are kept whole; a difference among them changes the object whole.
    if (!domainConfigEquals(unknownKeysOf(a), unknownKeysOf(b))) {
      out.push({ path, old: a, new: b });
      return;
    }
    for (const key of Object.keys(a)) diffValue(a[key], b[key], `${path}.${key}`, out);
    for (const key of Object.keys(b)) if (!(key in a)) diffValue(undefined, b[key], `${path}.${key}`, out);
    return;
  }
  out.push({ path, old: a, new: b });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const SEGMENT = /\.([^.[]+)|\[(\d+)\]/gy;

/** Applies changes (as diffEntries gives them) to a deep copy of `entry`'s config and devices. */
export function applyChanges<T extends Diffable>(entry: T, changes: readonly PathChange[]): T {
  const root: Record<string, unknown> = { config: cloneDomainConfig(entry.config), devices: cloneDomainConfig(entry.devices) };
  for (const change of changes) {
    const keys = parsePath(change.path);
    let parent: Record<string | number, unknown> = root;
    for (const key of keys.slice(0, -1)) parent = parent[key] as Record<string | number, unknown>;
    const last = keys[keys.length - 1]!;
    if (change.new !== undefined) parent[last] = cloneDomainConfig(change.new); // never shared with the event
    else if (Array.isArray(parent)) parent.length = Math.min(parent.length, last as number);
    else delete parent[last];
  }
  return { ...entry, config: root.config, devices: root.devices } as T;
}

function parsePath(path: string): (string | number)[] {
  const first = /^[a-z]+/.exec(path)![0];
  const keys: (string | number)[] = [first];
  SEGMENT.lastIndex = first.length;
  for (let match; (match = SEGMENT.exec(path));) keys.push(match[1] ?? Number(match[2]));
  return keys;
}
