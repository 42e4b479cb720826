// The xenstore conformance suites (ops, transaction, watch) once more, against
// Debian's OCaml oxenstored instead of the C xenstored: a child vitest runs
// those files with XEN_DOMCONFIG_DAEMON=oxenstored, which useLocalXenstored()
// reads. Where the daemons legitimately differ, the suites themselves assert
// each daemon's behaviour (see testDaemon() in them).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startLocalXenstored } from '../../lib/localxen/xenstored.js';
import { packageRoot } from '../../lib/util/package-root.js';

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
