// The xenstore conformance suites (ops, transaction, watch) once more, against
// Debian's OCaml oxenstored instead of the C xenstored: a child vitest runs
// those files with XEN_DOMCONFIG_DAEMON=oxenstored, which useLocalXenstored()
// reads. Where the daemons legitimately differ, the suites themselves assert
// each daemon's behaviour (see testDaemon() in them). Then `list -l` of the
// same domains on both daemons: the same output from the same requests.
import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { loggedRequests, startLocalXenstored, type LocalXenstoredDaemon } from '../../lib/localxen/xenstored.js';
import { packageRoot } from '../../lib/util/package-root.js';
import { populateDom0, populateDomains } from '../../bench/populate.js';
import { runCli } from '../cli/run.js';
import { createDomain, disk, entryOf, nic, tempUserdataDir } from '../domain/fixture.js';

const SUITES = ['test/xenstore/ops.test.ts', 'test/xenstore/transaction.test.ts', 'test/xenstore/watch.test.ts'];

/** Why oxenstored cannot run here, or undefined if it starts and listens. */
async function oxenstoredUnavailable(): Promise<string | undefined> {
  try {
    const daemon = await startLocalXenstored({ daemon: 'oxenstored' });
    await daemon.stop();
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

interface JsonReport {
  success: boolean;
  testResults: {
    name: string;
    status: string;
    message?: string;
    assertionResults: { fullName: string; status: string; failureMessages: string[] }[];
  }[];
}

function runSuites(report: string): Promise<{ code: number | null; output: string }> {
  const root = packageRoot();
  const env: NodeJS.ProcessEnv = {};
  // the child is a vitest of its own, not a worker of this one
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('VITEST')) env[key] = value;
  env.XEN_DOMCONFIG_DAEMON = 'oxenstored';
  return new Promise((resolve) => {
    execFile(process.execPath, [
      join(root, 'node_modules/vitest/vitest.mjs'), 'run', '--reporter=json', `--outputFile=${report}`, ...SUITES,
    ], { cwd: root, env, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, output: `${stdout}${stderr}` });
    });
  });
}

const unavailable = await oxenstoredUnavailable();

describe('xenstore conformance against oxenstored', () => {
  it(`${SUITES.map((file) => file.replace(/^test\/xenstore\//, '')).join(', ')} pass against oxenstored`, async (ctx) => {
    if (unavailable) {
      const why = `skipped: oxenstored cannot start here: ${unavailable}`;
      console.warn(why); // the default reporter does not show skip notes
      ctx.skip(why);
    }
    const dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-oxenstored-'));
    try {
      const { code, output } = await runSuites(join(dir, 'report.json'));
      let report: JsonReport;
      try {
        report = JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as JsonReport;
      } catch {
        throw new Error(`the child vitest wrote no report (exit ${code}):\n${output}`);
      }
      const files = report.testResults.map((file) => file.name.slice(packageRoot().length + 1)).sort();
      expect(files).toEqual([...SUITES].sort());
      const failures = report.testResults.flatMap((file) => [
        ...(file.status === 'passed' ? [] : [`${file.name}: ${file.status} ${file.message ?? ''}`.trim()]),
        ...file.assertionResults
          .filter((test) => test.status !== 'passed')
          .map((test) => `${test.fullName}: ${test.status} ${test.failureMessages.join('\n')}`.trim()),
      ]);
      expect(failures).toEqual([]);
      for (const file of report.testResults) expect(file.assertionResults.length, file.name).toBeGreaterThan(0);
      expect(report.success).toBe(true);
      expect(code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** The benchmark's domains, a cdrom and a disk without a template entry, on a private daemon; then one list -l by the CLI. */
async function listOn(daemon: LocalXenstoredDaemon): Promise<{ output: string; requests: string[] }> {
  const logDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-requests-'));
  const requestLog = join(logDir, 'requests');
  const xenstored = await startLocalXenstored({ daemon, requestLog });
  const userdata = tempUserdataDir();
  const host = XenHost.open({ xenstorePath: xenstored.socketPath, userdataDir: userdata.dir });
  try {
    await populateDom0(host);
    await populateDomains(host, [1, 2, 3, 4]);
    const cdrom = disk('hdc', '/srv/cd.iso', { is_cdrom: 1, removable: 1, readwrite: 0 });
    await createDomain(host.xenstore, userdata.dir, {
      domid: 7, name: 'shapes', type: 'pv', maxVcpus: 3, onlineVcpus: 2,
      devices: [{ kind: 'disk', entry: disk('xvda', '/dev/vg/a') }, { kind: 'disk', entry: cdrom }, { kind: 'disk', entry: disk('xvdc', '/dev/vg/c') }, { kind: 'nic', entry: nic(1) }],
      template: (config) => {
        config.disks = [entryOf('disk', { vdev: 'xvda', pdev_path: '/dev/vg/a' }), entryOf('disk', { vdev: 'hdc', pdev_path: '/srv/cd.iso', is_cdrom: 1, removable: 1 })];
        config.nics = [entryOf('nic', { devid: 1 })];
      },
    });
    await host.xenstore.write('/libxl/7/device/vbd/5632/params', ''); // ejected
    const before = statSync(requestLog).size;
    const listed = await runCli(['--xenstore', xenstored.socketPath, '--userdata-dir', userdata.dir, 'list', '-l']);
    expect(listed.code, listed.stderr).toBe(0);
    const requests = loggedRequests(daemon, readFileSync(requestLog).subarray(before).toString('utf8'))
      .map(({ type, path }) => `${type} ${path}`).sort();
    return { output: listed.stdout, requests };
  } finally {
    await host.close();
    await xenstored.stop();
    userdata.remove();
    rmSync(logDir, { recursive: true, force: true });
  }
}

describe('list -l on oxenstored', () => {
  // No skip: scripts/setup.sh unpacks oxenstored with the C daemon, and it must start.
  it('starts, and lists the same domains as on C xenstored with the same requests', async () => {
    const [c, ocaml] = [await listOn('xenstored'), await listOn('oxenstored')];
    const listed = JSON.parse(ocaml.output) as { domid: number; config: { disks: { vdev: string; pdev_path: string }[] } }[];
    expect(listed.map((entry) => entry.domid)).toEqual([0, 1, 2, 3, 4, 7]);
    expect(listed.at(-1)!.config.disks.map((d) => [d.vdev, d.pdev_path])).toEqual([['xvda', '/dev/vg/a'], ['hdc', '']]);
    expect(ocaml.output).toBe(c.output);
    expect(ocaml.requests).toContain('READ /local/domain/1/name');
    expect(ocaml.requests).toEqual(c.requests);
  }, 60_000);
});

describe('oxenstored\'s logs', () => {
  // It rotates its access log by renaming the file and creating a new one: pointed at
  // /dev/null, that puts a regular file in place of the device for the whole machine.
  it('writes no access log, and leaves /dev/null a device, past the point where it would rotate one', async () => {
    const daemon = await startLocalXenstored({ daemon: 'oxenstored' });
    const store = XenStore.open({ path: daemon.socketPath });
    try {
      // 15,000 writes (reads are not logged by default); oxenstored rotates every 13,215 lines.
      const steps = Array.from({ length: 1000 }, (_, i) => ({ op: 'write' as const, path: `/logged/${i % 100}`, value: 'x' }));
      for (let i = 0; i < 15; i++) await store.transaction((tx) => tx.batch(steps));
      expect(readdirSync(daemon.rundir).filter((name) => /access/.test(name))).toEqual([]);
      expect(statSync('/dev/null').isCharacterDevice()).toBe(true);
    } finally {
      await store.close();
      await daemon.stop();
    }
  }, 60_000);
});
