// Mirror benchmark: N PV domains (default 1000) on a private real xenstored,
// measured in one run against the cold listing and the real `xl list -l` on
// the same state:
//   - mirror.list() + formatDomainList against listDomains + format and xl;
//   - requests per change, from xenstored's trace (-T), at two sizes, beside
//     one retrieve of the same domain (its read set);
//   - change-to-event latency, p50 and p99, under a steady rate of writes to
//     memory/target spread over all domains, at the counting sizes and at N;
//   - RSS of the CLI's `watch` with every domain mirrored.
// Prints the targets as PASS or MISS and writes bench/results/mirror.json,
// mirror-latency.svg and mirror-requests.svg (against domains, beside list-l.svg).
//
//   npm run bench:mirror -- [--domains 1000] [--rate 200] [--seconds 10] [--count-sizes 10,200] [--no-xl] [--out DIR]
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { formatDomainList } from '../lib/config/index.js';
import { XenHost } from '../lib/host.js';
import type { RetrievedDomain } from '../lib/domain/retrieve.js';
import { startLocalXenstored, type LocalXenstored } from '../lib/localxen/xenstored.js';
import type { ConfigMirror } from '../lib/mirror/index.js';
import { packageRoot } from '../lib/util/package-root.js';
import { XenStoreWireClient as WireClient } from '../lib/xenstore/wire-client.js';
import { checkCommandBuilt, COMMAND, NODE_PROCESS_ENV } from './command.js';
import { plotSvg } from './plot.js';
import { populateDom0, populateDomains } from './populate.js';
import { benchXlState, findRealXl, xlEnv, type RealXl } from './realxl.js';
import { stats } from './stats.js';

const { values: options } = parseArgs({
  options: {
    domains: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '200' },
    seconds: { type: 'string', default: '10' },
    'count-sizes': { type: 'string', default: '10,200' },
    'no-xl': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});

const ROOT = packageRoot();
const OUT = options.out ?? join(ROOT, 'bench/results');
const DOMAINS = Number(options.domains);
const RATE = Number(options.rate);
const SECONDS = Number(options.seconds);
const COUNT_SIZES = options['count-sizes']!.split(',').map(Number);
const CHANGES_COUNTED = 20;
const TARGETS = { listSpeedupOverXl: 200, latencyP99Ms: 20, rssMb: 150 };

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const log = (text: string) => process.stderr.write(`${text}\n`);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Bench {
  daemon: LocalXenstored;
  host: XenHost;
  userdataDir: string;
}

async function startBench(domains: number, args: string[] = []): Promise<Bench> {
  const daemon = await startLocalXenstored({ args });
  const userdataDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-bench-mirror-'));
  const host = XenHost.open({ xenstorePath: daemon.socketPath, userdataDir });
  await populateDom0(host);
  await populateDomains(host, Array.from({ length: domains }, (_, i) => i + 1));
  return { daemon, host, userdataDir };
}

async function stopBench(bench: Bench): Promise<void> {
  await bench.host.close();
  await bench.daemon.stop();
  rmSync(bench.userdataDir, { recursive: true, force: true });
}

/**
 * When the mirror first showed a domain's target at `value` or later (a later
 * write may fold an earlier one into the same read): the event's arrival time.
 */
function eventTimes(mirror: ConfigMirror): { waitFor(domid: number, value: bigint): Promise<number>; stop(): void } {
  const waiting = new Map<number, { value: bigint; resolve: (ms: number) => void }[]>();
  const events = mirror.events();
  void (async () => {
    for await (const event of events) {
      if (event.type !== 'changed') continue;
      const at = nowMs();
      const target = event.entry.config.b_info.target_memkb;
      const waiters = waiting.get(event.domid) ?? [];
      waiting.set(event.domid, waiters.filter((waiter) => (waiter.value <= target ? (waiter.resolve(at), false) : true)));
    }
  })();
  return {
    waitFor: (domid, value) => new Promise((resolve) => {
      const waiters = waiting.get(domid) ?? [];
      waiters.push({ value, resolve });
      waiting.set(domid, waiters);
    }),
    stop: () => { void events.return?.(); },
  };
}

/** Requests xenstored served for each change the mirror saw, and for one retrieve of the same domain. */
async function requestsPerChange(domains: number): Promise<{ domains: number; perChange: number; readSet: number }> {
  const traceDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-trace-'));
  const trace = join(traceDir, 'trace');
  const bench = await startBench(domains, ['-T', trace]);
  const mirror = bench.host.mirror();
  const wire = await WireClient.connect(bench.daemon.socketPath);
  try {
    await mirror.ready;
    const seen = eventTimes(mirror);
    const requestsDuring = async (work: () => Promise<unknown>): Promise<number> => {
      await sleep(50);
      const before = statSync(trace).size;
      await work();
      await sleep(50); // the trace is written as requests are served
      return readFileSync(trace, 'utf8').slice(before).split('\n').filter((line) => line.startsWith('IN ')).length;
    };
    let total = 0;
    for (let i = 0; i < CHANGES_COUNTED; i++) {
      const domid = 1 + ((i * 7919) % domains);
      const value = BigInt(200_000 + i);
      // One request is the write itself; the rest is the mirror's.
      total += await requestsDuring(async () => {
        const arrived = seen.waitFor(domid, value);
        await wire.write(`/local/domain/${domid}/memory/target`, String(value));
        await arrived;
      }) - 1;
    }
    seen.stop();
    const readSet = await requestsDuring(() => bench.host.retrieveDomainConfiguration(1, {}));
    return { domains, perChange: Number((total / CHANGES_COUNTED).toFixed(1)), readSet };
  } finally {
    await wire.close();
    await mirror.close();
    await stopBench(bench);
    rmSync(traceDir, { recursive: true, force: true });
  }
}

/** xl's view of the state: our xenstored, a copy of the templates, the fake hypervisor's table. */
function xlTimes(real: RealXl, bench: Bench, runs: number): number[] {
  const runDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-bench-mirror-xl-'));
  const domids = Array.from({ length: DOMAINS }, (_, i) => i + 1);
  const state = benchXlState(bench.daemon.socketPath, bench.userdataDir, domids, runDir);
  const env = xlEnv(real, state);
  const times: number[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const start = nowMs();
      const result = spawnSyncQuiet(real.xl, ['list', '-l'], env);
      if (result !== 0) throw new Error(`xl list -l exited with ${result}`);
      times.push(nowMs() - start);
    }
  } finally {
    rmSync(runDir, { recursive: true, force: true });
  }
  return times;
}

/** Output to /dev/null: xl's time, not a pipe's. */
function spawnSyncQuiet(file: string, args: string[], env: NodeJS.ProcessEnv): number | null {
  return spawnSync(file, args, { env, stdio: 'ignore' }).status;
}

interface Latency { domains: number; changes: number; p50: number; p99: number; max: number }

/** Latency on a smaller population of its own (the plot's other points). */
async function latencyAt(domains: number): Promise<Latency> {
  const bench = await startBench(domains);
  const mirror = bench.host.mirror();
  try {
    await mirror.ready;
    return await latency(bench, mirror, domains);
  } finally {
    await mirror.close();
    await stopBench(bench);
  }
}

/** Change-to-event latency under RATE writes a second to random domains' memory/target, for SECONDS. */
async function latency(bench: Bench, mirror: ConfigMirror, domains: number): Promise<Latency> {
  const wire = await WireClient.connect(bench.daemon.socketPath);
  const seen = eventTimes(mirror);
  const samples: Promise<number>[] = [];
  const interval = 1000 / RATE;
  const start = nowMs();
  try {
    for (let n = 0; n < RATE * SECONDS; n++) {
      const due = start + n * interval;
      const wait = due - nowMs();
      if (wait > 1) await sleep(wait);
      const domid = 1 + Math.floor(Math.random() * domains);
      const value = BigInt(300_000 + n);
      const arrived = seen.waitFor(domid, value);
      const sent = nowMs();
      void wire.write(`/local/domain/${domid}/memory/target`, String(value));
      samples.push(arrived.then((at) => at - sent));
    }
    const all = (await Promise.all(samples)).sort((a, b) => a - b);
    const at = (q: number) => Number(all[Math.min(all.length - 1, Math.floor(q * all.length))]!.toFixed(2));
    return { domains, changes: all.length, p50: at(0.5), p99: at(0.99), max: at(1) };
  } finally {
    seen.stop();
    await wire.close();
  }
}

/** RSS of `xen-domconfig watch` once it has printed every domain (--initial), from /proc. */
async function watchRssMb(bench: Bench): Promise<number> {
  const child = spawn(COMMAND, ['--xenstore', bench.daemon.socketPath, '--userdata-dir', bench.userdataDir, 'watch', '--json', '--initial'],
    { stdio: ['ignore', 'pipe', 'inherit'], env: NODE_PROCESS_ENV });
  let lines = 0;
  for await (const _line of createInterface({ input: child.stdout })) {
    if (++lines === DOMAINS + 1) break;
  }
  await sleep(500); // settled after the initial burst
  const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
  child.kill('SIGTERM');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)![1]);
  return Number((kb / 1024).toFixed(1));
}

async function main(): Promise<void> {
  checkCommandBuilt();
  const found = options['no-xl'] ? { missing: '--no-xl' } : findRealXl();
  const real = 'missing' in found ? undefined : found;
  if (!real) log(`real xl: skipped (${(found as { missing: string }).missing})`);

  log(`requests per change (xenstored -T) at ${COUNT_SIZES.join(' and ')} domains…`);
  const requests = [];
  for (const size of COUNT_SIZES) requests.push(await requestsPerChange(size));
  log(`  ${requests.map((r) => `N=${r.domains}: ${r.perChange} per change, read set ${r.readSet}`).join('; ')}`);

  log(`populating ${DOMAINS} domains…`);
  const bench = await startBench(DOMAINS);
  const mirror = bench.host.mirror();
  try {
    const readyStart = nowMs();
    await mirror.ready;
    const readyMs = nowMs() - readyStart;
    log(`mirror ready in ${readyMs.toFixed(0)} ms`);

    const mirrored: number[] = [];
    let text = '';
    for (let i = 0; i < 21; i++) {
      const start = nowMs();
      text = formatDomainList(mirror.list() as RetrievedDomain[]);
      mirrored.push(nowMs() - start);
    }
    const cold: number[] = [];
    for (let i = 0; i < 3; i++) {
      const start = nowMs();
      const fresh = formatDomainList(await bench.host.listDomains({ long: true }) as RetrievedDomain[]);
      cold.push(nowMs() - start);
      if (fresh !== text) throw new Error('the mirror does not print what a fresh listing prints');
    }
    const xl = real ? xlTimes(real, bench, 2) : [];
    const list = {
      mirror: stats(mirrored),
      cold: stats(cold),
      ...(xl.length > 0 ? { xl: stats(xl) } : {}),
    };
    log(`list + format at N=${DOMAINS}: mirror ${list.mirror.median.toFixed(1)} ms, cold ${list.cold.median.toFixed(0)} ms${list.xl ? `, xl ${list.xl.median.toFixed(0)} ms` : ''}`);

    log(`latency: ${RATE} changes/s over ${DOMAINS} domains for ${SECONDS} s…`);
    const lat = await latency(bench, mirror, DOMAINS);
    log(`  p50 ${lat.p50} ms, p99 ${lat.p99} ms, max ${lat.max} ms over ${lat.changes} changes`);
    await mirror.close();
    const latencies = [];
    for (const size of COUNT_SIZES.filter((size) => size < DOMAINS)) {
      log(`latency at N=${size}…`);
      latencies.push(await latencyAt(size));
    }
    latencies.push(lat);

    const rssMb = await watchRssMb(bench);
    log(`watch RSS with ${DOMAINS} domains mirrored: ${rssMb} MB`);

    const speedup = list.xl ? Number((list.xl.median / list.mirror.median).toFixed(0)) : undefined;
    const coldSpeedup = Number((list.cold.median / list.mirror.median).toFixed(0));
    const perChangeFlat = requests.every((r) => r.perChange <= r.readSet);
    const targets = [
      { target: `mirror.list() + format ≥ ${TARGETS.listSpeedupOverXl}× faster than xl list -l`, value: speedup === undefined ? undefined : `${speedup}×`, pass: speedup === undefined ? undefined : speedup >= TARGETS.listSpeedupOverXl },
      { target: 'requests per change ≤ the domain\'s read set, at every size', value: requests.map((r) => `${r.perChange}/${r.readSet}`).join(', '), pass: perChangeFlat },
      { target: `change-to-event p99 ≤ ${TARGETS.latencyP99Ms} ms at ${RATE}/s`, value: `${lat.p99} ms`, pass: lat.p99 <= TARGETS.latencyP99Ms },
      { target: `watch RSS < ${TARGETS.rssMb} MB`, value: `${rssMb} MB`, pass: rssMb < TARGETS.rssMb },
    ];
    const result = { domains: DOMAINS, readyMs: Number(readyMs.toFixed(0)), list, speedupOverXl: speedup, speedupOverCold: coldSpeedup, requests, latency: { rate: RATE, seconds: SECONDS, ...lat }, rssMb, targets };
    mkdirSync(OUT, { recursive: true });
    writeFileSync(join(OUT, 'mirror.json'), `${JSON.stringify({ ...result, latencyBySize: latencies }, null, 2)}\n`);
    writeFileSync(join(OUT, 'mirror-latency.svg'), plotSvg(`mirror: change-to-event latency at ${RATE} changes/s against domains (log-log)`, [
      { label: 'p50', color: '#1f77b4', points: latencies.map((l): [number, number] => [l.domains, l.p50]) },
      { label: 'p99', color: '#d62728', points: latencies.map((l): [number, number] => [l.domains, l.p99]) },
      { label: `p99 target (${TARGETS.latencyP99Ms} ms)`, color: '#999', points: latencies.map((l): [number, number] => [l.domains, TARGETS.latencyP99Ms]) },
    ], 'latency (ms)'));
    writeFileSync(join(OUT, 'mirror-requests.svg'), plotSvg('mirror: xenstore requests per change against domains (log-log)', [
      { label: 'per change', color: '#2ca02c', points: requests.map((r): [number, number] => [r.domains, r.perChange]) },
      { label: 'one retrieve (read set)', color: '#ff7f0e', points: requests.map((r): [number, number] => [r.domains, r.readSet]) },
    ], 'requests'));
    process.stdout.write(`\nmirror at N=${DOMAINS}: ready ${result.readyMs} ms; list+format ${list.mirror.median.toFixed(2)} ms `
      + `(cold ${list.cold.median.toFixed(0)} ms, ${coldSpeedup}×${list.xl ? `; xl ${list.xl.median.toFixed(0)} ms, ${speedup}×` : ''})\n`);
    for (const t of targets) process.stdout.write(`| ${t.target} | ${t.value ?? '-'} | ${t.pass === undefined ? 'not measured' : t.pass ? 'PASS' : 'MISS'} |\n`);
  } finally {
    await mirror.close();
    await stopBench(bench);
  }
}

await main();
