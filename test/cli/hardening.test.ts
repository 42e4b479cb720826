// What an adversarial user found, each kept found: the command line end to end
// against a private real xenstored. Every refusal leaves the userdata folder
// and xenstore as they were.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDomainConfig } from '../../lib/config/index.js';
import { MAX_TEMPLATE_BYTES } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir, templateFor, type FixtureDomain } from '../domain/fixture.js';
import { hostSnapshot } from '../harness/snapshot.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { runCli, type CliResult } from './run.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;

const DOMAINS: FixtureDomain[] = [
  { domid: 1, name: 'alpha', type: 'pv' },
  { domid: 2, name: 'beta', type: 'pvh' },
];

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  for (const domain of DOMAINS) await createDomain(store, userdata.dir, domain);
});

afterAll(async () => {
  await store?.close();
  userdata.remove();
});

const cli = (args: string[], options: { input?: string } = {}) =>
  runCli(['--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, '--no-hotplug-scripts', ...args], options);

function expectOneLineError(result: CliResult, code: number, pattern: RegExp): void {
  expect(result.code, result.stderr).toBe(code);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^xen-domconfig: /);
  expect(lines[0]).toMatch(pattern);
}

/** Runs the command and checks it changed nothing, in xenstore or the folder. */
async function unchangedBy(run: () => Promise<CliResult>): Promise<CliResult> {
  const before = await hostSnapshot(store, userdata.dir);
  const result = await run();
  const after = await hostSnapshot(store, userdata.dir);
  expect(after.xenstore).toBe(before.xenstore);
  expect(after.folder).toEqual(before.folder);
  return result;
}

describe('store refuses what the reader would refuse (finding 1)', () => {
  it('a template larger than the reader accepts, from a file, stdin or /dev/zero, is refused before anything is written (exit 5)', async () => {
    const config = templateFor(DOMAINS[1]!);
    const text = formatDomainConfig(config);
    // Valid JSON past the limit: an unknown key holding a long string.
    const large = `${text.slice(0, -2)},\n    "padding": "${'x'.repeat(MAX_TEMPLATE_BYTES)}"\n}\n`;
    const file = join(userdata.dir, '..', `large-${process.pid}.json`);
    writeFileSync(file, large);
    for (const [args, input] of [[['store', '2', file]], [['store', '2', '-'], large], [['store', '2', '/dev/zero']]] as const) {
      const result = await unchangedBy(() => cli([...args], input === undefined ? {} : { input }));
      expectOneLineError(result, 5, new RegExp(`more than the ${MAX_TEMPLATE_BYTES} bytes a template may have`));
    }
    rmSync(file);
    const shown = await cli(['show-template', '2']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(text);
  });
});
