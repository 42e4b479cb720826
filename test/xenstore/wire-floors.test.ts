// The C floor programs of the benchmark (bench/c) make the same requests and
// read the same bytes as each other and as the expected `list -l` read set.
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { packageRoot } from '../../lib/util/package-root.js';
import { WireClient } from '../../bench/wire-client.js';
import { syntheticDomainEntries, writeEntries } from '../../bench/wire-fixture.js';

const floors = join(packageRoot(), 'bench', 'c');
const buildable = existsSync('/usr/include/xenstore.h') && existsSync('/usr/include/xen/io/xs_wire.h');
if (!buildable) console.warn('wire-floors: skipped, libxenstore headers (libxen-dev) are not installed');

/** Enough domains that /local/domain no longer fits one payload (DIRECTORY_PART). */
const NAME_ONLY_DOMAINS = 1200;
const FULL_DOMAINS = [3, 7, 250];
const SHAPES = { 3: { vcpus: 2 }, 7: { vcpus: 4, disks: 3, nics: 2 }, 250: { vcpus: 1, disks: 0, nics: 0 } } as const;

/** Requests and bytes the floors' read set makes for a domain with these entries. */
function expectedFor(domid: number, entries: Map<string, string>, vcpus?: number): { requests: number; bytes: number } {
  let requests = 0;
  let bytes = 0;
  const read = (path: string): void => { requests++; bytes += Buffer.byteLength(entries.get(path) ?? ''); };
  const list = (path: string): string[] => {
    requests++;
    const names = new Set<string>();
    for (const key of entries.keys()) {
      if (key.startsWith(`${path}/`)) names.add(key.slice(path.length + 1).split('/')[0]!);
    }
    for (const name of names) bytes += name.length + 1;
    return [...names];
  };
  const dom = `/local/domain/${domid}`;
  for (const key of ['name', 'vm', 'memory/target', 'memory/static-max']) read(`${dom}/${key}`);
  const cpus = vcpus ?? list(`${dom}/cpu`).length;
  for (let i = 0; i < cpus; i++) read(`${dom}/cpu/${i}/availability`);
  const device = `/libxl/${domid}/device`;
  for (const kind of list(device)) {
    for (const devid of list(`${device}/${kind}`)) {
      for (const key of list(`${device}/${kind}/${devid}`)) read(`${device}/${kind}/${devid}/${key}`);
    }
  }
  return { requests, bytes };
}

function runFloor(program: string, args: string[], socketPath: string): { requests: number; bytes: number; domains: number } {
  const output = execFileSync(join(floors, program), args, { env: { ...process.env, XENSTORED_PATH: socketPath }, encoding: 'utf8' });
  const fields = Object.fromEntries(output.trim().split(' ').map((field) => field.split('=')));
  expect(Number(fields.elapsed_ns)).toBeGreaterThan(0);
  return { requests: Number(fields.requests), bytes: Number(fields.bytes), domains: Number(fields.domains) };
}

describe.skipIf(!buildable)('C floors', () => {
  const xs = useLocalXenstored();
  const entries = new Map<string, string>();

  beforeAll(async () => {
    execFileSync('make', ['-s', '-C', floors], { stdio: 'inherit' });
    // Domain 0 also exists in a real store; the name-only domains stand for many small ones.
    for (let domid = 0; domid < NAME_ONLY_DOMAINS; domid++) entries.set(`/local/domain/${domid}/name`, `d${domid}`);
    for (const domid of FULL_DOMAINS) {
      for (const [path, value] of syntheticDomainEntries(domid, SHAPES[domid as keyof typeof SHAPES])) entries.set(path, value);
    }
    const connection = await WireClient.connect(xs.current.socketPath);
    await writeEntries(connection, [...entries]);
    await connection.close();
  });

  it('read the same set for listed domids, with cpu/ listed or counted', () => {
    const domids = FULL_DOMAINS.map(String);
    const expected = FULL_DOMAINS.map((domid) => expectedFor(domid, entries));
    const total = { requests: expected.reduce((n, e) => n + e.requests, 0), bytes: expected.reduce((n, e) => n + e.bytes, 0), domains: 3 };
    expect(runFloor('serial_floor', domids, xs.current.socketPath)).toEqual(total);
    expect(runFloor('pipelined_floor', domids, xs.current.socketPath)).toEqual(total);

    const counted = FULL_DOMAINS.map((domid) => expectedFor(domid, entries, 2));
    const countedTotal = { requests: counted.reduce((n, e) => n + e.requests, 0), bytes: counted.reduce((n, e) => n + e.bytes, 0), domains: 3 };
    expect(runFloor('serial_floor', ['-c', '2', ...domids], xs.current.socketPath)).toEqual(countedTotal);
    expect(runFloor('pipelined_floor', ['-c', '2', ...domids], xs.current.socketPath)).toEqual(countedTotal);
  });

  it('read the same set for "all", beyond one DIRECTORY payload of domids', () => {
    const domids = [...new Set([...entries.keys()].filter((key) => key.startsWith('/local/domain/')).map((key) => Number(key.split('/')[3])))];
    expect(domids.length).toBe(NAME_ONLY_DOMAINS);
    const listing = domids.reduce((n, domid) => n + String(domid).length + 1, 0);
    expect(listing).toBeGreaterThan(4096);
    let requests = 1;
    let bytes = listing;
    for (const domid of domids) {
      const one = expectedFor(domid, entries);
      requests += one.requests;
      bytes += one.bytes;
    }
    const expected = { requests, bytes, domains: NAME_ONLY_DOMAINS };
    expect(runFloor('serial_floor', ['all'], xs.current.socketPath)).toEqual(expected);
    expect(runFloor('pipelined_floor', ['all'], xs.current.socketPath)).toEqual(expected);
  });

  it('reject bad arguments with a usage message', () => {
    for (const program of ['serial_floor', 'pipelined_floor']) {
      for (const args of [[], ['-c'], ['x1'], ['all', '3'], ['-c', '-1', 'all']]) {
        expect(() => execFileSync(join(floors, program), args, { stdio: 'pipe' })).toThrow(/usage/);
      }
    }
  });
});
