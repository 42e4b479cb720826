// Micro-benchmark of the pipelined wire client against the real xenstored:
// per-read cost serial vs pipelined, and the `list -l` read set for many
// domains done by the wire client and by the two C floors (bench/c).
//
//   npm run build:ts && node dist/bench/wire-micro.js [--domains N] [--keys N] [--socket PATH]
//
// Without --socket a private xenstored is started (lib/localxen); with it, the
// keys are written under /bench-wire and the synthetic domains are only read
// when they are already there.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { DEVICE_TYPES } from '../lib/devices/index.js';
import { startLocalXenstored, type LocalXenstored } from '../lib/localxen/xenstored.js';
import { packageRoot } from '../lib/util/package-root.js';
import { XenStoreWireClient as WireClient } from '../lib/xenstore/wire-client.js';
import { populateSyntheticDomains, writeEntries } from './wire-fixture.js';

interface Row { what: string; requests: number; totalMs: number; usPerRequest: number }

const { values: options } = parseArgs({
  options: {
    domains: { type: 'string', default: '200' },
    keys: { type: 'string', default: '5000' },
    socket: { type: 'string' },
    repeat: { type: 'string', default: '3' },
  },
});
const domainCount = Number(options.domains);
const keyCount = Number(options.keys);
const repeat = Number(options.repeat);

function row(what: string, requests: number, elapsedNs: bigint | number): Row {
  const totalMs = Number(elapsedNs) / 1e6;
  return { what, requests, totalMs: round(totalMs, 2), usPerRequest: round((totalMs * 1000) / requests, 2) };
}

function round(value: number, digits: number): number {
  return Number(value.toFixed(digits));
}

/** Best of `repeat` runs (the least disturbed by the other load on the machine). */
async function best(run: () => Promise<Row>): Promise<Row> {
  let result: Row | undefined;
  for (let i = 0; i < repeat; i++) {
    const candidate = await run();
    if (!result || candidate.totalMs < result.totalMs) result = candidate;
  }
  return result!;
}

async function timed(what: string, requests: number, body: () => Promise<unknown>): Promise<Row> {
  const start = process.hrtime.bigint();
  await body();
  return row(what, requests, process.hrtime.bigint() - start);
}

/** The device dirs under /libxl/<domid>/device that a list lists. */
const DEVICE_DIRS = new Set(DEVICE_TYPES.flatMap((type) => type.xenstoreKinds));

/**
 * The reads of `list -l` (the C floors' set): per domain, the scalars, the
 * vCPUs, the device dirs and their devids; dom0's pci backends once. Awaited
 * one by one or all in flight.
 */
async function listReads(connection: WireClient, domids: number[], pipelined: boolean): Promise<number> {
  let requests = 0;
  const readAll = async (paths: string[]): Promise<void> => {
    requests += paths.length;
    if (pipelined) await connection.readMany(paths);
    else for (const path of paths) await connection.read(path).catch(() => undefined);
  };
  const list = async (path: string): Promise<string[]> => {
    requests++;
    return connection.directory(path).catch(() => []);
  };
  const forEach = async <T>(items: T[], body: (item: T) => Promise<void>): Promise<void> => {
    if (pipelined) await Promise.all(items.map(body));
    else for (const item of items) await body(item);
  };
  await forEach(domids, async (domid) => {
    const dom = `/local/domain/${domid}`;
    await readAll(['name', 'vm', 'memory/target', 'memory/static-max'].map((key) => `${dom}/${key}`));
    const cpus = await list(`${dom}/cpu`);
    await readAll(cpus.map((_, i) => `${dom}/cpu/${i}/availability`));
    const device = `/libxl/${domid}/device`;
    await forEach((await list(device)).filter((kind) => DEVICE_DIRS.has(kind)), async (kind) => { await list(`${device}/${kind}`); });
  });
  await list('/local/domain/0/backend/pci');
  return requests;
}

function runFloor(program: string, socketPath: string, domids: number[]): Row {
  const output = execFileSync(program, domids.map(String), { env: { ...process.env, XENSTORED_PATH: socketPath }, encoding: 'utf8' });
  const fields = Object.fromEntries(output.trim().split(' ').map((field) => field.split('=') as [string, string]));
  return row(`C ${program.slice(program.lastIndexOf('/') + 1)}`, Number(fields.requests), Number(fields.elapsed_ns));
}

async function main(): Promise<void> {
  let daemon: LocalXenstored | undefined;
  const socketPath = options.socket ?? (daemon = await startLocalXenstored()).socketPath;
  const connection = await WireClient.connect(socketPath);
  const rows: Row[] = [];
  try {
    const keys = Array.from({ length: keyCount }, (_, i): [string, string] => [`/bench-wire/k${i % 100}/key-${i}`, `value-${i}`]);
    await writeEntries(connection, keys);
    const paths = keys.map(([path]) => path);
    const serialCount = Math.min(keyCount, 2000);
    rows.push(await best(() => timed('TS read, awaited one by one', serialCount, async () => {
      for (let i = 0; i < serialCount; i++) await connection.read(paths[i]!);
    })));
    for (const window of [1, 16, 64, 256]) {
      const windowed = await WireClient.connect(socketPath, { window });
      rows.push(await best(() => timed(`TS readMany, window ${window}`, keyCount, () => windowed.readMany(paths))));
      await windowed.close();
    }
    rows.push(await best(() => timed('TS readTree /bench-wire (dir + read per node)', 2 * (keyCount + 101),
      () => connection.readTree('/bench-wire'))));

    const domids = Array.from({ length: domainCount }, (_, i) => i + 1);
    if (daemon) await populateSyntheticDomains(connection, domids);
    let requests = 0;
    rows.push(await best(async () => {
      const start = process.hrtime.bigint();
      requests = await listReads(connection, domids, false);
      return row(`TS list -l reads, ${domainCount} domains, serial`, requests, process.hrtime.bigint() - start);
    }));
    rows.push(await best(async () => {
      const start = process.hrtime.bigint();
      requests = await listReads(connection, domids, true);
      return row(`TS list -l reads, ${domainCount} domains, pipelined`, requests, process.hrtime.bigint() - start);
    }));
    const floors = join(packageRoot(), 'bench', 'c');
    if (!existsSync(join(floors, 'serial_floor')) || !existsSync(join(floors, 'pipelined_floor'))) {
      execFileSync('make', ['-s', '-C', floors], { stdio: 'inherit' });
    }
    for (const program of ['serial_floor', 'pipelined_floor']) {
      rows.push(await best(async () => runFloor(join(floors, program), socketPath, domids)));
    }
  } finally {
    await connection.close();
    await daemon?.stop();
  }
  console.table(rows);
}

await main();
