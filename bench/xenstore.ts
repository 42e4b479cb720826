// XenStore binding against C libxenstore, side by side on one private real
// xenstored: single reads (sync, awaited, 64 concurrent callers), readMany of
// 100 keys and readTree of a 100-node subtree, against bench/c/read_loop
// doing xs_read serially over the same keys.
//
//   npm run bench:xenstore
//   node dist/bench/xenstore.js [--repeat 9] [--ops 2000] [--calls 20] [--pool 4] [--out DIR]
//
// Samples of every series are taken in turn (one of each per round), so load
// from other work on the machine falls on all of them alike. Reports medians
// with min–max; the ratios are of medians from this run.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startLocalXenstored } from '../lib/localxen/xenstored.js';
import { packageRoot } from '../lib/util/package-root.js';
import { XenStore, type XenStoreNode } from '../lib/xenstore/index.js';
import { stats, type Stats } from './stats.js';

const { values: options } = parseArgs({
  options: {
    repeat: { type: 'string', default: '9' },
    ops: { type: 'string', default: '2000' },
    calls: { type: 'string', default: '20' },
    pool: { type: 'string', default: '4' },
    out: { type: 'string' },
  },
});

const ROOT = packageRoot();
const READ_LOOP = join(ROOT, 'bench/c/read_loop');
const OUT = options.out ?? join(ROOT, 'bench/results');
/** Samples per series. */
const REPEAT = Number(options.repeat);
/** Single reads per sample (cycling over the keys). */
const OPS = Number(options.ops);
/** readMany / readTree calls per sample. */
const CALLS = Number(options.calls);
const POOL_SIZE = Number(options.pool);
const CONCURRENCY = 64;
const WARMUP_ROUNDS = 2;

const KEY_COUNT = 100;
const KEYS = Array.from({ length: KEY_COUNT }, (_, i) => `/bench-xs/keys/k${i}`);
const keyValue = (i: number) => `value-${i}`;
const TREE_ROOT = '/bench-xs/tree';
/** The root, 9 directories, 10 leaves in each: 1 + 9 + 90 = 100 nodes. */
const TREE_NODES: [string, string][] = [[TREE_ROOT, 'root']];
for (let d = 0; d < 9; d++) {
  TREE_NODES.push([`${TREE_ROOT}/d${d}`, `dir-${d}`]);
  for (let l = 0; l < 10; l++) TREE_NODES.push([`${TREE_ROOT}/d${d}/l${l}`, `leaf-${d}-${l}`]);
}

type SeriesName = 'cRead' | 'readSync' | 'readAwaited' | 'readConcurrent' | 'readMany' | 'readTree' | 'readManyNative' | 'readTreeNative';
/** unit: what one sample's number is. */
const SERIES: { name: SeriesName; label: string; unit: 'µs/op' | 'µs/call' }[] = [
  { name: 'cRead', label: 'C xs_read loop (serial), per read', unit: 'µs/op' },
  { name: 'readSync', label: 'XenStore.readSync', unit: 'µs/op' },
  { name: 'readAwaited', label: 'XenStore.read, awaited one by one', unit: 'µs/op' },
  { name: 'readConcurrent', label: `XenStore.read, ${CONCURRENCY} concurrent callers`, unit: 'µs/op' },
  // Batches pipelined on the store's own socket connection (the default)…
  { name: 'readMany', label: `XenStore.readMany(${KEY_COUNT} keys)`, unit: 'µs/call' },
  { name: 'readTree', label: `XenStore.readTree(${TREE_NODES.length} nodes)`, unit: 'µs/call' },
  // …and in one native call on a libxenstore handle (pipelined: false, or no Unix socket).
  { name: 'readManyNative', label: `readMany(${KEY_COUNT} keys), libxenstore`, unit: 'µs/call' },
  { name: 'readTreeNative', label: `readTree(${TREE_NODES.length} nodes), libxenstore`, unit: 'µs/call' },
];

const nowNs = () => process.hrtime.bigint();
const usSince = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e3;

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

// ------------------------------------------------------------------ fixture

function writeFixture(store: XenStore): void {
  KEYS.forEach((key, i) => store.writeSync(key, keyValue(i)));
  for (const [path, value] of TREE_NODES) store.writeSync(path, value);
}

function countNodes(node: XenStoreNode): number {
  return node.children.reduce((sum, child) => sum + countNodes(child), 1);
}

/** Fails the run unless every reader sees the fixture as written. */
async function checkFixture(store: XenStore, keyFile: string, socketPath: string): Promise<void> {
  const values = await store.readMany(KEYS);
  const wrong = values.findIndex((value, i) => value !== keyValue(i));
  if (wrong >= 0) throw new Error(`readMany: ${KEYS[wrong]} is ${values[wrong]}, expected ${keyValue(wrong)}`);
  const tree = await store.readTree(TREE_ROOT);
  if (!tree || countNodes(tree) !== TREE_NODES.length) throw new Error(`readTree: ${tree ? countNodes(tree) : 0} nodes, expected ${TREE_NODES.length}`);
  const c = cReadLoop(socketPath, keyFile, 1);
  const bytes = KEYS.reduce((sum, _, i) => sum + keyValue(i).length, 0);
  if (c.reads !== KEY_COUNT || c.bytes !== bytes) throw new Error(`read_loop: ${c.reads} reads of ${c.bytes} bytes, expected ${KEY_COUNT} of ${bytes}`);
}

// ------------------------------------------------------------------ runners

interface CResult { reads: number; bytes: number; nsPerRead: number; nsPerPass: number }

function cReadLoop(socketPath: string, keyFile: string, passes: number): CResult {
  const output = execFileSync(READ_LOOP, ['-n', String(passes), '-w', '1', '-f', keyFile], {
    env: { ...process.env, XENSTORED_PATH: socketPath },
    encoding: 'utf8',
  });
  const fields = Object.fromEntries(output.trim().split(' ').map((field) => field.split('=') as [string, string]));
  return { reads: Number(fields.reads), bytes: Number(fields.bytes), nsPerRead: Number(fields.ns_per_read), nsPerPass: Number(fields.ns_per_pass) };
}

function readSyncLoop(store: XenStore): number {
  const start = nowNs();
  for (let i = 0; i < OPS; i++) store.readSync(KEYS[i % KEY_COUNT]!);
  return usSince(start) / OPS;
}

async function readAwaitedLoop(store: XenStore): Promise<number> {
  const start = nowNs();
  for (let i = 0; i < OPS; i++) await store.read(KEYS[i % KEY_COUNT]!);
  return usSince(start) / OPS;
}

/** CONCURRENCY callers, each awaiting its own reads, OPS in all: the time per op is throughput. */
async function readConcurrent(store: XenStore): Promise<number> {
  let next = 0;
  const caller = async () => {
    while (next < OPS) await store.read(KEYS[next++ % KEY_COUNT]!);
  };
  const start = nowNs();
  await Promise.all(Array.from({ length: CONCURRENCY }, caller));
  return usSince(start) / OPS;
}

async function perCall(body: () => Promise<unknown>): Promise<number> {
  const start = nowNs();
  for (let i = 0; i < CALLS; i++) await body();
  return usSince(start) / CALLS;
}

// ------------------------------------------------------------------ request counts

/** Requests xenstored receives per readMany and per readTree call, from the trace (-T) of a second daemon. */
async function countRequests(): Promise<{ readMany: number; readTree: number }> {
  const traceDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-trace-'));
  const traceFile = join(traceDir, 'trace');
  const daemon = await startLocalXenstored({ args: ['-T', traceFile] });
  const store = XenStore.open({ path: daemon.socketPath, poolSize: 1 });
  try {
    writeFixture(store);
    const requestsDuring = async (work: () => Promise<unknown>): Promise<number> => {
      const before = statSync(traceFile).size;
      await work();
      await new Promise((resolve) => setTimeout(resolve, 50)); // the trace is written after the reply
      return readFileSync(traceFile, 'utf8').slice(before).split('\n').filter((line) => line.startsWith('IN ')).length;
    };
    return {
      readMany: await requestsDuring(() => store.readMany(KEYS)),
      readTree: await requestsDuring(() => store.readTree(TREE_ROOT)),
    };
  } finally {
    await store.close();
    await daemon.stop();
    rmSync(traceDir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ main

async function main(): Promise<void> {
  const requests = await countRequests();
  const daemon = await startLocalXenstored();
  const store = XenStore.open({ path: daemon.socketPath, poolSize: POOL_SIZE });
  const native = XenStore.open({ path: daemon.socketPath, poolSize: POOL_SIZE, pipelined: false });
  const workDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-bench-xs-'));
  const keyFile = join(workDir, 'keys');
  writeFileSync(keyFile, `${KEYS.join('\n')}\n`);
  const samples = Object.fromEntries(SERIES.map((s) => [s.name, [] as number[]])) as Record<SeriesName, number[]>;
  /** Time of one pass of 100 serial reads in C, beside its µs per read. */
  const c100Samples: number[] = [];
  try {
    writeFixture(store);
    await checkFixture(store, keyFile, daemon.socketPath);
    const cPasses = Math.max(1, Math.round(OPS / KEY_COUNT));
    for (let round = -WARMUP_ROUNDS; round < REPEAT; round++) {
      const c = cReadLoop(daemon.socketPath, keyFile, cPasses);
      const sample = {
        cRead: c.nsPerRead / 1e3,
        readSync: readSyncLoop(store),
        readAwaited: await readAwaitedLoop(store),
        readConcurrent: await readConcurrent(store),
        readMany: await perCall(() => store.readMany(KEYS)),
        readTree: await perCall(() => store.readTree(TREE_ROOT)),
        readManyNative: await perCall(() => native.readMany(KEYS)),
        readTreeNative: await perCall(() => native.readTree(TREE_ROOT)),
      };
      if (round < 0) continue; // warm-up: JIT, caches, the daemon's first allocations
      for (const s of SERIES) samples[s.name].push(sample[s.name]);
      c100Samples.push(c.nsPerPass / 1e3);
      log(`round ${round + 1}/${REPEAT}: ${SERIES.map((s) => `${s.name} ${sample[s.name].toFixed(1)}`).join(', ')} µs`);
    }
  } finally {
    await native.close();
    await store.close();
    await daemon.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  const series = Object.fromEntries(SERIES.map((s) => [s.name, stats(samples[s.name])])) as Record<SeriesName, Stats>;
  const c100 = stats(c100Samples);
  const ratio = (a: number, b: number) => Number((a / b).toFixed(3));
  const targets = [
    { name: 'readSync / C read', value: ratio(series.readSync.median, series.cRead.median), target: 1.1 },
    { name: `readMany(${KEY_COUNT}) / C ${KEY_COUNT} serial reads`, value: ratio(series.readMany.median, c100.median), target: 1.2 },
    { name: `readTree(${TREE_NODES.length} nodes) / C ${KEY_COUNT} serial reads`, value: ratio(series.readTree.median, c100.median), target: 1.2 },
  ].map((t) => ({ ...t, pass: t.value <= t.target }));
  const informational = {
    'readAwaited / C read': ratio(series.readAwaited.median, series.cRead.median),
    'readConcurrent / C read': ratio(series.readConcurrent.median, series.cRead.median),
    'readTree per request, libxenstore / C read': ratio(series.readTreeNative.median / requests.readTree, series.cRead.median),
    [`readMany(${KEY_COUNT}), libxenstore / C ${KEY_COUNT} serial reads`]: ratio(series.readManyNative.median, c100.median),
    [`readTree(${TREE_NODES.length} nodes), libxenstore / C ${KEY_COUNT} serial reads`]: ratio(series.readTreeNative.median, c100.median),
  };

  const report = {
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    repeat: REPEAT,
    warmupRounds: WARMUP_ROUNDS,
    opsPerSample: OPS,
    callsPerSample: CALLS,
    poolSize: POOL_SIZE,
    concurrency: CONCURRENCY,
    fixture: { keys: KEY_COUNT, treeNodes: TREE_NODES.length },
    requestsPerCall: requests,
    units: { ...Object.fromEntries(SERIES.map((s) => [s.name, s.unit])), c100SerialReads: 'µs/pass' },
    series: { ...series, c100SerialReads: c100 },
    targets,
    informational,
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, 'xenstore.json'), `${JSON.stringify(report, null, 2)}\n`);

  const fmt = (s: Stats) => `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
  const lines = ['', `| series | unit | median (min–max), ${REPEAT} samples |`, '|---|---|---|'];
  for (const s of SERIES) lines.push(`| ${s.label} | ${s.unit} | ${fmt(series[s.name])} |`);
  lines.push(`| C ${KEY_COUNT} serial xs_reads | µs/pass | ${fmt(c100)} |`);
  lines.push('', `requests per call (xenstored trace): readMany ${requests.readMany}, readTree ${requests.readTree}`, '');
  lines.push('| ratio (of medians) | value | target | |', '|---|---|---|---|');
  for (const t of targets) lines.push(`| ${t.name} | ${t.value.toFixed(2)} | ≤ ${t.target.toFixed(2)} | ${t.pass ? 'PASS' : 'MISS'} |`);
  for (const [name, value] of Object.entries(informational)) lines.push(`| ${name} | ${value.toFixed(2)} | - | |`);
  lines.push('');
  process.stdout.write(lines.join('\n'));
  log(`results: ${join(OUT, 'xenstore.json')}`);
}

await main();
