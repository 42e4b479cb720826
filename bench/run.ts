// `list -l` benchmark: N PV domains on a private real xenstored, listed by
// xen-domconfig (library and CLI), by the real `xl list -l` on the same state
// (when ../shared/fakexen is present) and by the two C floors of the same
// reads; requests per domain from xenstored's trace; xenstored's own CPU time
// during each run (the single-threaded daemon's share, which no client can
// overlap away); peak RSS of the CLI.
//
//   npm run bench                 quick: N = 1, 10, 100, 200, 1000, few repetitions
//   npm run bench -- --full       more repetitions
//   options: --sizes 1,10,100,200,1000  --repeat K  --no-xl  --out DIR
//            --daemon oxenstored   every series on the OCaml oxenstored (default: C xenstored);
//                                  results go to list-l-oxenstored.json and .svg
//            --only library,cli    time just these series; no request counts,
//                                  cross-checks, codec cost, RSS or result files
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatDomainList, parseDomainConfig } from '../lib/config/index.js';
import { XenHost } from '../lib/host.js';
import type { LongListEntry } from '../lib/domain/list.js';
import type { RetrievedDomain } from '../lib/domain/retrieve.js';
import { loggedRequests, startLocalXenstored, type LocalXenstored, type LocalXenstoredDaemon } from '../lib/localxen/xenstored.js';
import { packageRoot } from '../lib/util/package-root.js';
import { XenStore } from '../lib/xenstore/index.js';
import { compareNodes, domainNodes, jsonDiffs, xlCreatedNodes, type LayoutComparison } from './crosscheck.js';
import { plotSvg } from './plot.js';
import { stats, type Stats } from './stats.js';
import { benchUuid, DOM0, floorVcpuArgs, populateDom0, populateDomains } from './populate.js';
import { benchXlState, findRealXl, runXl, xlEnv, type RealXl } from './realxl.js';
import { checkCommandBuilt, COMMAND, NODE_PROCESS_ENV } from './command.js';

const { values: options } = parseArgs({
  options: {
    full: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    repeat: { type: 'string' },
    'no-xl': { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
    daemon: { type: 'string', default: 'xenstored' },
  },
});
if (options.daemon !== 'xenstored' && options.daemon !== 'oxenstored') {
  throw new Error(`--daemon must be xenstored or oxenstored, not ${JSON.stringify(options.daemon)}`);
}
/** The daemon every series runs against. */
const DAEMON: LocalXenstoredDaemon = options.daemon;
/** The results' file names: the C daemon's are list-l.*, oxenstored's list-l-oxenstored.*. */
const RESULTS_NAME = DAEMON === 'xenstored' ? 'list-l' : `list-l-${DAEMON}`;

const ROOT = packageRoot();
const FLOORS = join(ROOT, 'bench/c');
const OUT = options.out ?? join(ROOT, 'bench/results');
const SIZES = (options.sizes ?? '1,10,100,200,1000').split(',').map(Number).sort((a, b) => a - b);
const REPEAT = Number(options.repeat ?? (options.full ? 11 : 5));
/** Real xl takes seconds per run at 1000 domains: fewer runs of it. */
const XL_REPEAT = Math.max(1, Math.min(REPEAT, options.full ? 5 : 3));
/** Series to time (all by default); a subset is an iteration run that writes no results. */
const ONLY = options.only === undefined ? undefined : new Set(options.only.split(','));
const timed = (name: SeriesName) => ONLY === undefined || ONLY.has(name);
/** Domains of the request-count run (counts are per domain; the trace slows xenstored). */
const COUNT_DOMAINS = 10;

type SeriesName = 'library' | 'libraryNative' | 'cli' | 'xl' | 'serialFloor' | 'pipelinedFloor';
const SERIES: { name: SeriesName; label: string; color: string }[] = [
  { name: 'library', label: 'xen-domconfig listDomains (in-process)', color: '#1f77b4' },
  { name: 'libraryNative', label: 'listDomains, libxenstore only', color: '#17becf' },
  { name: 'cli', label: 'xen-domconfig list -l (process)', color: '#2ca02c' },
  { name: 'xl', label: 'real xl list -l (process)', color: '#d62728' },
  { name: 'serialFloor', label: 'C serial floor (libxenstore)', color: '#9467bd' },
  { name: 'pipelinedFloor', label: 'C pipelined floor (wire)', color: '#ff7f0e' },
];

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;
const CLOCK_TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }));

/** CPU time (user + system) a process has used so far, from /proc (clock-tick resolution). */
function cpuMsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND; // utime, stime
}

function log(text: string): void {
  process.stderr.write(`${text}\n`);
}

// ------------------------------------------------------------------ runners

function floor(program: 'serial_floor' | 'pipelined_floor', socketPath: string): { ms: number; requests: number; domains: number } {
  const output = execFileSync(join(FLOORS, program), [...floorVcpuArgs(), 'all'], { env: { ...process.env, XENSTORED_PATH: socketPath }, encoding: 'utf8' });
  const fields = Object.fromEntries(output.trim().split(' ').map((field) => field.split('=') as [string, string]));
  return { ms: Number(fields.elapsed_ns) / 1e6, requests: Number(fields.requests), domains: Number(fields.domains) };
}


function cliArgs(socketPath: string, userdataDir: string): string[] {
  return ['--xenstore', socketPath, '--userdata-dir', userdataDir, 'list', '-l'];
}

/** Wall time of a whole process, its output thrown away. */
function timedProcess(file: string, args: string[], env: NodeJS.ProcessEnv): number {
  const devNull = openSync('/dev/null', 'w');
  try {
    const start = nowMs();
    const result = spawnSync(file, args, { env, stdio: ['ignore', devNull, 'pipe'], encoding: 'utf8' });
    const elapsed = nowMs() - start;
    if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.status ?? result.signal}: ${result.stderr.trim().slice(-500)}`);
    return elapsed;
  } finally {
    closeSync(devNull);
  }
}

function captured(file: string, args: string[], env: NodeJS.ProcessEnv): string {
  return execFileSync(file, args, { env, encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'pipe'] });
}

function failuresOf(entries: LongListEntry[]): string[] {
  return entries.filter((entry) => 'error' in entry).map((entry) => `domain ${entry.domid}: ${(entry as { error: Error }).error.message}`);
}

// ------------------------------------------------------------------ state

interface Bench {
  daemon: LocalXenstored;
  /** As the CLI opens it: pipelined batch reads on its own socket, libxenstore for the rest. */
  host: XenHost;
  /** libxenstore only (the fallback where no socket is reachable). */
  nativeHost: XenHost;
  xenstore: XenStore;
  userdataDir: string;
  domids: number[];
}

async function startBench(requestLog?: string): Promise<Bench> {
  const daemon = await startLocalXenstored({ daemon: DAEMON, ...(requestLog === undefined ? {} : { requestLog }) });
  const userdataDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-bench-'));
  const host = XenHost.open({ xenstorePath: daemon.socketPath, userdataDir });
  const nativeHost = XenHost.open({ xenstorePath: daemon.socketPath, userdataDir, pipelined: false });
  await populateDom0(host);
  return { daemon, host, nativeHost, xenstore: host.xenstore, userdataDir, domids: [] };
}

async function growTo(bench: Bench, count: number): Promise<number> {
  const start = nowMs();
  const added = Array.from({ length: count - bench.domids.length }, (_, i) => bench.domids.length + i + 1);
  await populateDomains(bench.host, added);
  bench.domids.push(...added);
  return nowMs() - start;
}

async function stopBench(bench: Bench): Promise<void> {
  await bench.host.close();
  await bench.nativeHost.close();
  await bench.daemon.stop();
  rmSync(bench.userdataDir, { recursive: true, force: true });
}


// ------------------------------------------------------------------ request counts

/** Requests each reader makes per domain, from the daemon's request log (C xenstored's -T trace, oxenstored's access log) of one run each. */
async function countRequests(real: RealXl | undefined, runDir: string): Promise<Record<string, number>> {
  const traceFile = join(mkdtempSync(join(tmpdir(), 'xen-domconfig-trace-')), 'trace');
  const bench = await startBench(traceFile);
  const counts: Record<string, number> = {};
  try {
    await growTo(bench, COUNT_DOMAINS);
    const domains = COUNT_DOMAINS + 1; // dom0 is listed too
    const requestsDuring = async (work: () => unknown): Promise<number> => {
      const before = statSync(traceFile).size;
      await work();
      await new Promise((resolve) => setTimeout(resolve, 50));
      return loggedRequests(DAEMON, readFileSync(traceFile).subarray(before).toString('utf8')).length;
    };
    counts.library = await requestsDuring(() => bench.host.listDomains({ long: true })) / domains;
    counts.libraryNative = await requestsDuring(() => bench.nativeHost.listDomains({ long: true })) / domains;
    counts.cli = await requestsDuring(() => captured(COMMAND, cliArgs(bench.daemon.socketPath, bench.userdataDir), NODE_PROCESS_ENV)) / domains;
    if (real) {
      const env = xlEnv(real, benchXlState(bench.daemon.socketPath, bench.userdataDir, bench.domids, runDir));
      counts.xl = await requestsDuring(() => runXl(real, env, ['list', '-l'])) / domains;
    }
    for (const program of ['serial_floor', 'pipelined_floor'] as const) {
      const result = floor(program, bench.daemon.socketPath);
      counts[program === 'serial_floor' ? 'serialFloor' : 'pipelinedFloor'] = result.requests / result.domains;
    }
  } finally {
    await stopBench(bench);
    rmSync(join(traceFile, '..'), { recursive: true, force: true });
  }
  return Object.fromEntries(Object.entries(counts).map(([key, value]) => [key, Number(value.toFixed(1))]));
}

// ------------------------------------------------------------------ main

interface SizeResult {
  domains: number;
  populateMs: number;
  series: Partial<Record<SeriesName, Stats>>;
  /** Median CPU time of xenstored during one run of each series. */
  daemonCpuMs: Partial<Record<SeriesName, number>>;
  /**
   * Node's own start (`node -e ''`) plus xenstored's CPU during a CLI run: what
   * the CLI cannot go below with these requests to this daemon.
   */
  cliFloorMs?: number;
  /** xenstored's CPU during a library list: what no client making these requests to this daemon goes below. */
  libraryFloorMs?: number;
  /**
   * The command's start with no work (`xen-domconfig --version`: Node's start and the
   * bundle's load), in every CLI run whatever it asks xenstored: the CLI less it is its list.
   */
  cliStartMs?: number;
  /** Each client's distance to its floor: its median time less the floor, and divided by it. */
  aboveFloor: { library?: { ms: number; ratio: number }; cli?: { ms: number; ratio: number } };
  ratios: Record<string, number>;
  /** CPU of the template codec over all domains: parse of every template, format of the whole list. */
  codecMs?: { parse: number; format: number; roundTripsPerSecond: number };
}

async function main(): Promise<void> {
  checkCommandBuilt();
  const unknown = [...ONLY ?? []].filter((name) => !SERIES.some((s) => s.name === name));
  if (unknown.length > 0) throw new Error(`--only: unknown series ${unknown.join(', ')} (known: ${SERIES.map((s) => s.name).join(', ')})`);
  execFileSync('make', ['-s', '-C', FLOORS], { stdio: 'inherit' });
  const xlFound = options['no-xl'] || !timed('xl') ? { missing: '--no-xl' } : findRealXl();
  const real = 'missing' in xlFound ? undefined : xlFound;
  if (!real) log(`real xl: skipped (${(xlFound as { missing: string }).missing})`);
  const xlRunDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-bench-xl-'));

  const results: SizeResult[] = [];
  const checks: { layout?: LayoutComparison | { skipped: string }; listEqual?: { domains: number; diffs: string[] } | { skipped: string } } = {};
  let rssKb: number | undefined;

  let requestsPerDomain: Record<string, number> = {};
  if (!ONLY) {
    log('counting requests per domain (xenstored -T)…');
    requestsPerDomain = await countRequests(real, xlRunDir);
  }

  const bench = await startBench();
  try {
    const host = bench.host;
    for (const size of SIZES) {
      const populateMs = await growTo(bench, size);
      log(`N=${size}: populated in ${populateMs.toFixed(0)} ms`);
      const env = real ? xlEnv(real, benchXlState(bench.daemon.socketPath, bench.userdataDir, bench.domids, xlRunDir)) : undefined;

      if (checks.listEqual === undefined && !ONLY) {
        // The state is what libxl would read: xl's list -l of it equals ours.
        if (real && env) {
          const ours = JSON.parse(captured(COMMAND, cliArgs(bench.daemon.socketPath, bench.userdataDir), NODE_PROCESS_ENV)) as unknown[];
          const theirs = JSON.parse(runXl(real, env, ['list', '-l'])) as unknown[];
          // sched_params: xl asks the hypervisor (a fake one here); xen-domconfig keeps the stored ones.
          const withoutSched = (list: unknown[]) => list.map((entry) => {
            const copy = structuredClone(entry) as { config: { b_info: Record<string, unknown> } };
            delete copy.config.b_info.sched_params;
            return copy;
          });
          checks.listEqual = { domains: ours.length, diffs: jsonDiffs(withoutSched(theirs), withoutSched(ours)) };
          log(`list -l, xl vs xen-domconfig on ${ours.length} domains: ${checks.listEqual.diffs.length === 0 ? 'equal' : `${checks.listEqual.diffs.length} differences`}`);
        } else {
          checks.listEqual = { skipped: 'no real xl' };
        }
      }

      const series: Partial<Record<SeriesName, number[]>> = {};
      const daemonCpu: Partial<Record<SeriesName, number[]>> = {};
      const nodeStarts: number[] = [];
      const commandStarts: number[] = [];
      /** Times one run (by its own figure when it returns one) and xenstored's CPU meanwhile. */
      const measure = async (name: SeriesName, run: () => unknown): Promise<void> => {
        const cpu = cpuMsOf(bench.daemon.pid);
        const start = nowMs();
        const reported = await run();
        (series[name] ??= []).push(typeof reported === 'number' ? reported : nowMs() - start);
        (daemonCpu[name] ??= []).push(cpuMsOf(bench.daemon.pid) - cpu);
      };
      for (let i = 0; i < REPEAT; i++) {
        if (timed('library')) {
          let entries: LongListEntry[] = [];
          await measure('library', async () => { entries = await host.listDomains({ long: true }); });
          const failures = failuresOf(entries);
          if (failures.length > 0) throw new Error(`listDomains failed for ${failures.length} domains: ${failures.slice(0, 3).join('; ')}`);
          if (entries.length !== size + 1) throw new Error(`listDomains returned ${entries.length} domains, expected ${size + 1}`);
        }
        if (timed('libraryNative')) await measure('libraryNative', async () => { await bench.nativeHost.listDomains({ long: true }); });
        if (timed('cli')) {
          await measure('cli', () => timedProcess(COMMAND, cliArgs(bench.daemon.socketPath, bench.userdataDir), NODE_PROCESS_ENV));
          nodeStarts.push(timedProcess(process.execPath, ['-e', ''], NODE_PROCESS_ENV));
          commandStarts.push(timedProcess(COMMAND, ['--version'], NODE_PROCESS_ENV));
        }
        if (real && env && i < XL_REPEAT) await measure('xl', () => timedProcess(real.xl, ['list', '-l'], env));
        if (timed('serialFloor')) await measure('serialFloor', () => floor('serial_floor', bench.daemon.socketPath).ms);
        if (timed('pipelinedFloor')) await measure('pipelinedFloor', () => floor('pipelined_floor', bench.daemon.socketPath).ms);
      }

      const codecMs = ONLY ? undefined : await codecCost(host, bench);
      const summary = Object.fromEntries(Object.entries(series).map(([name, samples]) => [name, stats(samples)])) as Partial<Record<SeriesName, Stats>>;
      const daemonCpuMs = Object.fromEntries(Object.entries(daemonCpu).map(([name, samples]) => [name, Number(stats(samples).median.toFixed(0))]));
      const cliFloorMs = nodeStarts.length > 0 ? Number((stats(nodeStarts).median + daemonCpuMs.cli!).toFixed(1)) : undefined;
      const libraryFloorMs = daemonCpuMs.library;
      const cliStartMs = commandStarts.length > 0 ? Number(stats(commandStarts).median.toFixed(1)) : undefined;
      const distance = (time: Stats | undefined, floorMs: number | undefined) =>
        (time === undefined || !floorMs ? undefined : { ms: Number((time.median - floorMs).toFixed(1)), ratio: Number((time.median / floorMs).toFixed(2)) });
      const aboveFloor = Object.fromEntries(Object.entries({
        library: distance(summary.library, libraryFloorMs), cli: distance(summary.cli, cliFloorMs),
      }).filter(([, value]) => value !== undefined)) as SizeResult['aboveFloor'];
      const ratio = (a: SeriesName, b: SeriesName) => {
        const [x, y] = [summary[a]?.median, summary[b]?.median];
        return x !== undefined && y !== undefined ? Number((x / y).toFixed(3)) : undefined;
      };
      const ratios = Object.fromEntries(Object.entries({
        'cli/xl': ratio('cli', 'xl'),
        'cliFloor/xl': cliFloorMs !== undefined && summary.xl ? Number((cliFloorMs / summary.xl.median).toFixed(3)) : undefined,
        'library/xl': ratio('library', 'xl'),
        'library/serialFloor': ratio('library', 'serialFloor'),
        'library/pipelinedFloor': ratio('library', 'pipelinedFloor'),
      }).filter(([, value]) => value !== undefined)) as Record<string, number>;
      results.push({
        domains: size, populateMs: Number(populateMs.toFixed(0)), series: summary, daemonCpuMs,
        ...(cliFloorMs === undefined ? {} : { cliFloorMs }), ...(libraryFloorMs === undefined ? {} : { libraryFloorMs }),
        ...(cliStartMs === undefined ? {} : { cliStartMs }), aboveFloor,
        ratios, ...(codecMs ? { codecMs } : {}),
      });
      log(`N=${size}: ${SERIES.filter((s) => summary[s.name]).map((s) => `${s.name} ${summary[s.name]!.median.toFixed(1)} ms`).join(', ')}`);
    }

    if (!ONLY && SIZES[SIZES.length - 1]! >= 1000) rssKb = cliPeakRss(bench);

    if (ONLY) {
      checks.layout = { skipped: '--only' };
    } else if (real) {
      try {
        const xl = await xlCreatedNodes(real);
        const ours = await domainNodes(bench.xenstore, 1, benchUuid(1));
        checks.layout = compareNodes(xl, ours);
      } catch (error) {
        checks.layout = { skipped: `xl create failed: ${(error as Error).message}` };
      }
    } else {
      checks.layout = { skipped: 'no real xl' };
    }
  } finally {
    await stopBench(bench);
    rmSync(xlRunDir, { recursive: true, force: true });
  }

  if (ONLY) {
    process.stdout.write(table(requestsPerDomain, results, rssKb, {}));
    return;
  }
  const report = {
    date: new Date().toISOString(),
    mode: options.full ? 'full' : 'quick',
    daemon: DAEMON,
    repeat: REPEAT,
    xlRepeat: XL_REPEAT,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, node: process.version },
    unsetForNodeProcesses: process.env.NODE_EXTRA_CA_CERTS === undefined ? [] : ['NODE_EXTRA_CA_CERTS'],
    shape: 'PV, 4 vCPUs (2 online), 2 disks, 1 nic; plus dom0',
    requestsPerDomain,
    cliPeakRssKb: rssKb,
    sizes: results,
    targets: { domains: results[results.length - 1]?.domains, results: judgeTargets(results, rssKb) },
    checks,
  };
  mkdirSync(OUT, { recursive: true });
  writeFileSync(join(OUT, `${RESULTS_NAME}.json`), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(OUT, `${RESULTS_NAME}.svg`), plotSvg(`list -l on ${DAEMON}: median time against domains (log-log)`, SERIES
    .filter((s) => results.some((r) => r.series[s.name]))
    .map((s) => ({ label: s.label, color: s.color, points: results.map((r): [number, number] => [r.domains, r.series[s.name]?.median ?? 0]) }))));
  process.stdout.write(table(report.requestsPerDomain, results, rssKb, checks));
  log(`results: ${join(OUT, `${RESULTS_NAME}.json`)}, ${join(OUT, `${RESULTS_NAME}.svg`)}`);
}

/** Parse + format of one PV template, per second, on one core (the codec's target: at least this many). */
const CODEC_TARGET_PER_SECOND = 20_000;

/** A target's bound: the measured value must be `op` `bound`. */
interface Limit {
  op: '≤' | '<' | '≥';
  bound: number;
}

const MEETS: Record<Limit['op'], (value: number, bound: number) => boolean> = {
  '≤': (value, bound) => value <= bound,
  '<': (value, bound) => value < bound,
  '≥': (value, bound) => value >= bound,
};

interface TargetResult {
  target: string;
  value: number | undefined;
  limit: string;
  pass: boolean | undefined;
}

/**
 * The speed and memory targets, each judged at its own N (`at`), or else on
 * the largest N of the run (undefined: not measured). On a host with a few
 * domains the CLI's start-up is most of its time.
 */
const TARGETS: { target: string; at?: number; limit: Limit; value: (r: SizeResult, rssKb: number | undefined) => number | undefined }[] = [
  { target: 'CLI list -l / xl list -l, 1 domain', at: 1, limit: { op: '≤', bound: 1 }, value: (r) => r.ratios['cli/xl'] },
  { target: 'CLI list -l / xl list -l, 10 domains', at: 10, limit: { op: '≤', bound: 1 }, value: (r) => r.ratios['cli/xl'] },
  { target: 'CLI list -l / xl list -l', limit: { op: '≤', bound: 0.1 }, value: (r) => r.ratios['cli/xl'] },
  { target: 'library list / xl list -l (15× faster)', limit: { op: '≤', bound: Number((1 / 15).toFixed(3)) }, value: (r) => r.ratios['library/xl'] },
  { target: 'library list / C pipelined floor (same read set)', limit: { op: '≤', bound: 1.3 }, value: (r) => r.ratios['library/pipelinedFloor'] },
  { target: 'CLI list -l / its floor (Node start + daemon CPU)', limit: { op: '≤', bound: 1.3 }, value: (r) => r.aboveFloor?.cli?.ratio },
  { target: 'CLI list -l peak RSS, MiB', limit: { op: '<', bound: 150 }, value: (_r, rssKb) => (rssKb === undefined ? undefined : Number((rssKb / 1024).toFixed(1))) },
  { target: 'template parse + format, per second', limit: { op: '≥', bound: CODEC_TARGET_PER_SECOND }, value: (r) => r.codecMs?.roundTripsPerSecond },
];

function judgeTargets(results: SizeResult[], rssKb: number | undefined): TargetResult[] {
  const largest = results[results.length - 1];
  return TARGETS.map(({ target, at, limit, value }) => {
    const result = at === undefined ? largest : results.find((r) => r.domains === at);
    const measured = result && value(result, rssKb);
    return { target, value: measured, limit: `${limit.op} ${limit.bound}`, pass: measured === undefined ? undefined : MEETS[limit.op](measured, limit.bound) };
  });
}

/** Templates the codec's rate cycles through (a quick run has fewer domains). */
const CODEC_RATE_TEMPLATES = 100;
const CODEC_RATE_PROCESSES = 3;

/**
 * CPU of the template codec for the current domains (parse every stored template, format
 * the whole list), and its rate of parse + format round trips, measured alone in a
 * process of its own (bench/codec-rate.ts).
 */
async function codecCost(host: XenHost, bench: Bench): Promise<{ parse: number; format: number; roundTripsPerSecond: number }> {
  const texts = await Promise.all([0, ...bench.domids].map((domid) => bench.host.templates.readText(domid, domid === 0 ? { uuid: DOM0.uuid } : {})));
  let start = nowMs();
  for (const text of texts) parseDomainConfig(text);
  const parse = nowMs() - start;
  const entries = (await host.listDomains({ long: true })) as RetrievedDomain[];
  start = nowMs();
  formatDomainList(entries);
  const format = nowMs() - start;
  const guests = bench.domids.slice(0, CODEC_RATE_TEMPLATES).map((domid) => bench.host.templates.paths(domid, benchUuid(domid)).data);
  // The best of a few processes: on this machine kind the same process runs 13 000 to 29 000
  // a second from one run to the next, without any CPU steal the kernel sees.
  const rates = Array.from({ length: CODEC_RATE_PROCESSES }, () =>
    (JSON.parse(captured(process.execPath, [join(ROOT, 'dist/bench/codec-rate.js'), ...guests], NODE_PROCESS_ENV)) as { roundTripsPerSecond: number }).roundTripsPerSecond);
  const roundTripsPerSecond = Math.max(...rates);
  return { parse: Number(parse.toFixed(2)), format: Number(format.toFixed(2)), roundTripsPerSecond };
}

/** Peak RSS (KiB) of the CLI's list -l over the current domains, from /usr/bin/time. */
function cliPeakRss(bench: Bench): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const devNull = openSync('/dev/null', 'w');
  try {
    const result = spawnSync('/usr/bin/time', ['-f', 'maxrss_kb=%M', COMMAND, ...cliArgs(bench.daemon.socketPath, bench.userdataDir)],
      { env: NODE_PROCESS_ENV, stdio: ['ignore', devNull, 'pipe'], encoding: 'utf8' });
    const match = /maxrss_kb=(\d+)/.exec(result.stderr);
    return match ? Number(match[1]) : undefined;
  } finally {
    closeSync(devNull);
  }
}

function table(requests: Record<string, number>, results: SizeResult[], rssKb: number | undefined, checks: object): string {
  const lines: string[] = [];
  const fmt = (s: Stats | undefined) => (s ? `${s.median.toFixed(1)} (${s.min.toFixed(1)}–${s.max.toFixed(1)})` : '-');
  lines.push('', '| N | ' + SERIES.map((s) => `${s.name} ms`).join(' | ') + ' | cli/xl | lib/xl | lib/serial | lib/pipelined |');
  lines.push('|---|' + SERIES.map(() => '---').join('|') + '|---|---|---|---|');
  for (const r of results) {
    const ratio = (key: string) => (r.ratios[key] === undefined ? '-' : r.ratios[key]!.toFixed(2));
    lines.push(`| ${r.domains} | ${SERIES.map((s) => fmt(r.series[s.name])).join(' | ')} | ${ratio('cli/xl')} | ${ratio('library/xl')} | ${ratio('library/serialFloor')} | ${ratio('library/pipelinedFloor')} |`);
  }
  lines.push('', '| N | ' + SERIES.map((s) => `${DAEMON} CPU, ${s.name} ms`).join(' | ') + ' | cli floor ms | cli floor/xl |');
  lines.push('|---|' + SERIES.map(() => '---').join('|') + '|---|---|');
  for (const r of results) {
    const floorRatio = r.ratios['cliFloor/xl'];
    lines.push(`| ${r.domains} | ${SERIES.map((s) => r.daemonCpuMs[s.name] ?? '-').join(' | ')} | ${r.cliFloorMs ?? '-'} | ${floorRatio === undefined ? '-' : floorRatio.toFixed(2)} |`);
  }
  // The floors: the daemon's CPU for the library's requests; Node's start plus the daemon's CPU for the CLI's.
  lines.push('', '| N | library floor ms | library − floor ms | library/floor | cli floor ms | cli − floor ms | cli/floor |', '|---|---|---|---|---|---|---|');
  for (const r of results) {
    const { library, cli } = r.aboveFloor;
    lines.push(`| ${r.domains} | ${r.libraryFloorMs ?? '-'} | ${library?.ms ?? '-'} | ${library?.ratio ?? '-'} | ${r.cliFloorMs ?? '-'} | ${cli?.ms ?? '-'} | ${cli?.ratio ?? '-'} |`);
  }
  // The CLI as its start plus its list, beside the library's list (warm, in a process that has run it before).
  lines.push('', '| N | cli start ms (--version) | cli − start ms | library ms | (cli − start)/library |', '|---|---|---|---|---|');
  for (const r of results) {
    const [cli, library] = [r.series.cli?.median, r.series.library?.median];
    const list = cli !== undefined && r.cliStartMs !== undefined ? cli - r.cliStartMs : undefined;
    lines.push(`| ${r.domains} | ${r.cliStartMs ?? '-'} | ${list?.toFixed(1) ?? '-'} | ${library?.toFixed(1) ?? '-'} | ${list !== undefined && library ? (list / library).toFixed(2) : '-'} |`);
  }
  const last = results[results.length - 1];
  if (Object.keys(requests).length > 0) lines.push('', `requests per domain: ${Object.entries(requests).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (last?.codecMs) {
    const { parse, format } = last.codecMs;
    lines.push(`template codec CPU at N=${last.domains}: parse ${parse} ms, format ${format} ms`);
  }
  if (last) {
    lines.push('', `| target (set for 1000 domains unless it names N), at N=${last.domains} | measured | limit | |`, '|---|---|---|---|');
    for (const t of judgeTargets(results, rssKb)) {
      lines.push(`| ${t.target} | ${t.value ?? '-'} | ${t.limit} | ${t.pass === undefined ? 'not measured' : t.pass ? 'PASS' : 'MISS'} |`);
    }
  }
  lines.push(`checks: ${JSON.stringify(checks, (_key, value) => (Array.isArray(value) && value.length > 8 ? [...value.slice(0, 8), `… ${value.length - 8} more`] : value))}`, '');
  return lines.join('\n');
}

await main();
