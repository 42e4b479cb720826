// The C floor programs of the benchmark (bench/c) make the same requests and
// read the same bytes as each other and as the expected `list -l` read set,
// and for the benchmark's domains exactly the requests listDomains({ long: true }) makes.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { packageRoot } from '../../lib/util/package-root.js';
import { DEVICE_TYPES } from '../../lib/devices/index.js';
import { XenHost } from '../../lib/host.js';
import { loggedRequests, startLocalXenstored } from '../../lib/localxen/xenstored.js';
import { XenStoreWireClient as WireClient } from '../../lib/xenstore/wire-client.js';
import { syntheticDomainEntries, writeEntries } from '../../bench/wire-fixture.js';
import { floorVcpuArgs, populateDom0, populateDomains } from '../../bench/populate.js';

const floors = join(packageRoot(), 'bench', 'c');
const buildable = existsSync('/usr/include/xenstore.h') && existsSync('/usr/include/xen/io/xs_wire.h');
if (!buildable) console.warn('wire-floors: skipped, libxenstore headers (libxen-dev) are not installed');

/** Enough domains that /local/domain no longer fits one payload (DIRECTORY_PART). */
const NAME_ONLY_DOMAINS = 1200;
const FULL_DOMAINS = [3, 7, 250];
const SHAPES = { 3: { vcpus: 2 }, 7: { vcpus: 4, disks: 3, nics: 2 }, 250: { vcpus: 1, disks: 0, nics: 0 } } as const;
const PCI_BACKENDS = '/local/domain/0/backend/pci';
/** The device dirs list -l lists: those of the kinds the device table knows. */
const KNOWN_DIRS = new Set(DEVICE_TYPES.flatMap((type) => type.xenstoreKinds));

/** Requests and bytes of one listing or read of `entries`. */
function requestCounter(entries: Map<string, string>) {
  const total = { requests: 0, bytes: 0 };
  const read = (path: string): void => { total.requests++; total.bytes += Buffer.byteLength(entries.get(path) ?? ''); };
  const list = (path: string): string[] => {
    total.requests++;
    const names = new Set<string>();
    for (const key of entries.keys()) {
      if (key.startsWith(`${path}/`)) names.add(key.slice(path.length + 1).split('/')[0]!);
    }
    for (const name of names) total.bytes += name.length + 1;
    return [...names];
  };
  return { total, read, list };
}

/** Requests and bytes the floors' read set makes for a domain with these entries. */
function expectedFor(domid: number, entries: Map<string, string>, vcpus?: number): { requests: number; bytes: number } {
  const { total, read, list } = requestCounter(entries);
  const dom = `/local/domain/${domid}`;
  for (const key of ['name', 'vm', 'memory/target', 'memory/static-max']) read(`${dom}/${key}`);
  const cpus = vcpus ?? list(`${dom}/cpu`).length;
  for (let i = 0; i < cpus; i++) read(`${dom}/cpu/${i}/availability`);
  const device = `/libxl/${domid}/device`;
  for (const kind of list(device)) if (KNOWN_DIRS.has(kind)) list(`${device}/${kind}`);
  return total;
}

/** The listing of dom0's pci backends, once per run. */
function pciListing(entries: Map<string, string>): { requests: number; bytes: number } {
  const { total, list } = requestCounter(entries);
  list(PCI_BACKENDS);
  return total;
}

function sum(parts: { requests: number; bytes: number }[], domains: number) {
  return { requests: parts.reduce((n, e) => n + e.requests, 0), bytes: parts.reduce((n, e) => n + e.bytes, 0), domains };
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
    const total = sum([pciListing(entries), ...FULL_DOMAINS.map((domid) => expectedFor(domid, entries))], 3);
    expect(runFloor('serial_floor', domids, xs.current.socketPath)).toEqual(total);
    expect(runFloor('pipelined_floor', domids, xs.current.socketPath)).toEqual(total);

    const countedTotal = sum([pciListing(entries), ...FULL_DOMAINS.map((domid) => expectedFor(domid, entries, 2))], 3);
    expect(runFloor('serial_floor', ['-c', '2', ...domids], xs.current.socketPath)).toEqual(countedTotal);
    expect(runFloor('pipelined_floor', ['-c', '2', ...domids], xs.current.socketPath)).toEqual(countedTotal);
  });

  it('read the same set for "all", beyond one DIRECTORY payload of domids, dom0\'s vCPUs apart', () => {
    const domids = [...new Set([...entries.keys()].filter((key) => key.startsWith('/local/domain/')).map((key) => Number(key.split('/')[3])))];
    expect(domids.length).toBe(NAME_ONLY_DOMAINS);
    const listing = domids.reduce((n, domid) => n + String(domid).length + 1, 0);
    expect(listing).toBeGreaterThan(4096);
    const expected = sum([{ requests: 1, bytes: listing }, pciListing(entries), ...domids.map((domid) => expectedFor(domid, entries, domid === 0 ? 0 : 3))], NAME_ONLY_DOMAINS);
    expect(runFloor('serial_floor', ['-c', '3', '-0', '0', 'all'], xs.current.socketPath)).toEqual(expected);
    expect(runFloor('pipelined_floor', ['-c', '3', '-0', '0', 'all'], xs.current.socketPath)).toEqual(expected);
  });

  it('list the device dirs of the kinds the device table knows', () => {
    const header = readFileSync(join(floors, 'floor.h'), 'utf8');
    const dirs = /floor_device_dirs\[\] = \{([^}]*)\}/.exec(header)![1]!.match(/"([^"]+)"/g)!.map((quoted) => quoted.slice(1, -1));
    expect(new Set(dirs)).toEqual(KNOWN_DIRS);
  });

  it('make exactly the requests of listDomains({ long: true }) for the benchmark\'s domains', async () => {
    const traceDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-floor-trace-'));
    const trace = join(traceDir, 'trace');
    const daemon = await startLocalXenstored({ requestLog: trace });
    const userdataDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-floor-userdata-'));
    const host = XenHost.open({ xenstorePath: daemon.socketPath, userdataDir });
    /** Each request xenstored receives during `work`, as "TYPE path", sorted. */
    const requestsDuring = async (work: () => unknown): Promise<string[]> => {
      const before = statSync(trace).size;
      await work();
      // The trace is written as each request arrives: settled once the client has its replies.
      return loggedRequests('xenstored', readFileSync(trace).subarray(before).toString('utf8')).map(({ type, path }) => `${type} ${path}`).sort();
    };
    try {
      await populateDom0(host);
      await populateDomains(host, [1, 2, 3]);
      const library = await requestsDuring(() => host.listDomains({ long: true }));
      // 11 a guest: name, vm, the 2 memory nodes, 4 vCPUs, /libxl/<d>/device, its vbd and vif dirs.
      expect(library.filter((request) => /\/(local\/domain|libxl)\/2(\/|$)/.test(request))).toHaveLength(11);
      for (const program of ['serial_floor', 'pipelined_floor']) {
        const floor = await requestsDuring(() => runFloor(program, [...floorVcpuArgs(), 'all'], daemon.socketPath));
        expect(floor, program).toEqual(library);
      }
    } finally {
      await host.close();
      await daemon.stop();
      rmSync(userdataDir, { recursive: true, force: true });
      rmSync(traceDir, { recursive: true, force: true });
    }
  });

  it('reject bad arguments with a usage message', () => {
    for (const program of ['serial_floor', 'pipelined_floor']) {
      for (const args of [[], ['-c'], ['x1'], ['all', '3'], ['-c', '-1', 'all'], ['-0', 'x', 'all'], ['-0', '2']]) {
        expect(() => execFileSync(join(floors, program), args, { stdio: 'pipe' })).toThrow(/usage/);
      }
    }
  });
});
