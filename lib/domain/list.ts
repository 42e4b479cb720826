// `xl list` and `xl list -l` over every domain under /local/domain, dom0
// included as xl does. Each domain yields its result or the reason it has
// none: nothing is skipped silently. Domains are read concurrently.
import { rangeError } from '../errors.js';
import { AbortError, type XenStore } from '../xenstore/index.js';
import { DEVICE_TYPES, XenstoreValueError, type DeviceType } from '../devices/index.js';
import { DomainError } from './errors.js';
import { dom0Memory } from './refresh.js';
import { retrieveDomain, type RetrieveContext, type RetrieveOptions, type RetrievedDomain } from './retrieve.js';
import { domainPaths, MAX_VCPUS, type StateReader } from './state.js';
import { DOMID_FIRST_RESERVED } from '../xen.js';

/**
 * Domains read at once by default. Each sends its reads together, so 16 keep
 * xenstored busy (≈ 170 requests in flight); more only hold more domains'
 * state alive for the garbage collector to copy: a cold `list -l` of 1000
 * domains took ≈ 10% longer at 64 (bench/README.md).
 */
export const DEFAULT_LIST_CONCURRENCY = 16;

export interface ListOptions extends Omit<RetrieveOptions, 'snapshot'> {
  /** Whole configurations (`xl list -l`) instead of the summary. */
  long?: boolean;
  snapshot?: boolean;
  concurrency?: number;
}

/** `xl list`'s columns, from xenstore. */
export interface DomainSummary {
  domid: number;
  name: string;
  /** memory/target in KiB (xl shows the hypervisor's current allocation in MiB); null for dom0 without one. */
  memkb: bigint | null;
  /** cpu/<i>/availability = "online" nodes. */
  vcpus: number;
}

export interface DomainFailure {
  domid: number;
  error: Error & { code?: string };
}

export type LongListEntry = RetrievedDomain | DomainFailure;
export type ShortListEntry = DomainSummary | DomainFailure;

const DOMID = /^(0|[1-9][0-9]{0,4})$/;

/** Domids under /local/domain, ascending. */
export async function listDomids(xenstore: XenStore): Promise<number[]> {
  const names = (await xenstore.list('/local/domain')) ?? [];
  return names.filter((name) => DOMID.test(name) && Number(name) < DOMID_FIRST_RESERVED).map(Number).sort((a, b) => a - b);
}

export async function summarizeDomain(reader: StateReader, domid: number): Promise<DomainSummary> {
  const paths = domainPaths(domid);
  const [[name, target], cpus] = await Promise.all([
    reader.readMany([paths.name, paths.target]),
    reader.list(paths.cpu),
  ]);
  if (name === undefined && target === undefined && cpus === undefined) {
    throw new DomainError('ENODOMAIN', `domain ${domid} does not exist`, { domid });
  }
  if (name === undefined) throw new DomainError('EXSVALUE', `domain ${domid}: ${paths.name} is missing`, { domid, path: paths.name });
  let memkb: bigint | undefined;
  try {
    memkb = dom0Memory({ domid, values: new Map([[paths.target, target]]) }, paths.target);
  } catch (error) {
    if (!(error instanceof XenstoreValueError)) throw error;
    throw new DomainError('EXSVALUE', `domain ${domid}: ${error.message}`, { domid, path: error.path, cause: error });
  }
  const indexes = (cpus ?? []).filter((cpu) => /^(0|[1-9][0-9]{0,3})$/.test(cpu)).slice(0, MAX_VCPUS);
  const availability = indexes.length === 0 ? [] : await reader.readMany(indexes.map((cpu) => `${paths.cpu}/${cpu}/availability`));
  return { domid, name, memkb: memkb ?? null, vcpus: availability.filter((value) => value === 'online').length };
}

export function listDomains(context: RetrieveContext, options: ListOptions & { long: true }): Promise<LongListEntry[]>;
export function listDomains(context: RetrieveContext, options?: ListOptions & { long?: false }): Promise<ShortListEntry[]>;
export function listDomains(context: RetrieveContext, options?: ListOptions): Promise<LongListEntry[] | ShortListEntry[]>;
export async function listDomains(context: RetrieveContext, options: ListOptions = {}): Promise<LongListEntry[] | ShortListEntry[]> {
  const entries: (LongListEntry | ShortListEntry)[] = [];
  for await (const entry of streamDomains(context, options)) entries.push(entry);
  return entries as LongListEntry[] | ShortListEntry[];
}

/**
 * listDomains' entries one at a time, in domid order, each as soon as it and
 * those before it are read. A caller that writes each entry out and drops it
 * keeps a few domains' configurations alive instead of every one.
 */
export function streamDomains(context: RetrieveContext, options: ListOptions & { long: true }): AsyncGenerator<LongListEntry, void>;
export function streamDomains(context: RetrieveContext, options?: ListOptions & { long?: false }): AsyncGenerator<ShortListEntry, void>;
export function streamDomains(context: RetrieveContext, options?: ListOptions): AsyncGenerator<LongListEntry | ShortListEntry, void>;
export async function* streamDomains(context: RetrieveContext, options: ListOptions = {}): AsyncGenerator<LongListEntry | ShortListEntry, void> {
  const { signal } = options;
  // An abort is the caller's, not a failure of each domain: the list rejects with it.
  if (signal?.aborted) throw new AbortError(signal);
  const domids = await listDomids(context.xenstore);
  const concurrency = options.concurrency ?? DEFAULT_LIST_CONCURRENCY;
  const read: (domid: number) => Promise<RetrievedDomain | DomainSummary> = options.long
    ? await longReader(context, domids, options)
    : (domid) => summarizeDomain(context.reader, domid);
  for await (const entry of mapConcurrently(domids, concurrency, (domid) => orFailure(domid, read(domid)))) {
    if (signal?.aborted) throw new AbortError(signal);
    yield entry;
  }
  if (signal?.aborted) throw new AbortError(signal);
}

/** retrieveDomain with what one look at the whole host tells about each domain. */
async function longReader(context: RetrieveContext, domids: readonly number[], options: ListOptions): Promise<(domid: number) => Promise<RetrievedDomain>> {
  const [probedKinds, uuids] = await Promise.all([
    probedKindsOf(context.reader, domids.length),
    // A folder that cannot be listed gives no hints; each domain's read says what is wrong.
    context.templates.templateUuids().catch(() => new Map<number, string>()),
  ]);
  return (domid) => {
    const uuid = uuids.get(domid);
    return retrieveDomain(context, domid, options, { probed: probedKinds(domid), ...(uuid ? { uuid } : {}) });
  };
}

/**
 * Which kinds' probes each domain needs: a kind with a probeDomains dir
 * (dom0's pci backends) is probed only for the domains listed there, one
 * listing for the whole list instead of a read per domain.
 */
async function probedKindsOf(reader: StateReader, domains: number): Promise<(domid: number) => readonly DeviceType[]> {
  if (domains < 2) return () => DEVICE_TYPES;
  const present = new Map<DeviceType, Set<string>>();
  for (const type of DEVICE_TYPES) {
    if (type.probeDomains !== undefined) present.set(type, new Set(await reader.list(type.probeDomains) ?? []));
  }
  return (domid) => DEVICE_TYPES.filter((type) => present.get(type)?.has(String(domid)) ?? true);
}

async function orFailure<T>(domid: number, result: Promise<T>): Promise<T | DomainFailure> {
  try {
    return await result;
  } catch (error) {
    if (!(error instanceof Error)) throw error;
    return { domid, error };
  }
}

/**
 * Runs fn over items with at most `limit` in flight, yielding the results in
 * the input order, each as soon as it and those before it are done. Ending the
 * loop early starts nothing more and waits for the calls in flight.
 */
export async function* mapConcurrently<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): AsyncGenerator<R, void> {
  if (!Number.isInteger(limit) || limit < 1) throw rangeError('concurrency must be a positive integer');
  const results = new Array<R | undefined>(items.length);
  const done = new Uint8Array(items.length);
  let failure: { error: unknown } | undefined;
  /** Set by a failure, or by the caller leaving the loop: nothing more starts. */
  let stopped = false;
  let next = 0;
  let wake: (() => void) | undefined;
  const worker = async () => {
    while (!stopped && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!);
        done[index] = 1;
      } catch (error) {
        failure ??= { error };
        stopped = true;
      }
      wake?.();
    }
  };
  const workers = Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  try {
    for (let index = 0; index < items.length; index++) {
      while (!done[index] && failure === undefined) await new Promise<void>((resolve) => { wake = resolve; });
      if (failure !== undefined) throw failure.error;
      const result = results[index] as R;
      results[index] = undefined; // the caller's now: not kept alive here
      yield result;
    }
  } finally {
    stopped = true;
    await workers;
  }
}
