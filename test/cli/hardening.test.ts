// What an adversarial user found, each kept found: the command line end to end
// against a private real xenstored. Every refusal leaves the userdata folder
// and xenstore as they were.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NIL_UUID, formatDomainConfig, parseDomainConfig, parseDomainList } from '../../lib/config/index.js';
import { startLocalBackend, type LocalBackend } from '../../lib/localxen/backend.js';
import { MAX_TEMPLATE_BYTES, TemplateStore } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir, templateFor, uuidOf, type FixtureDomain } from '../domain/fixture.js';
import { hostSnapshot } from '../harness/snapshot.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { CLI, runCli, type CliResult } from './run.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;

const DOMAINS: FixtureDomain[] = [
  { domid: 1, name: 'alpha', type: 'pv' },
  { domid: 2, name: 'beta', type: 'pvh' },
];

/** Dom0 as xen-init-dom0 leaves it on a freshly booted host: a name, a domid and its template; no vm node, no memory nodes. */
const DOM0_MAX_MEMKB = 4194304n;
async function freshDom0(): Promise<void> {
  await store.write('/local/domain/0/name', 'Domain-0');
  await store.write('/local/domain/0/domid', '0');
  const config = templateFor({ domid: 0, name: 'Domain-0', type: 'pv' });
  config.c_info.uuid = NIL_UUID;
  config.b_info.max_memkb = DOM0_MAX_MEMKB;
  config.b_info.target_memkb = DOM0_MAX_MEMKB;
  await new TemplateStore({ xenstore: store, dir: userdata.dir }).write(0, config, { uuid: NIL_UUID });
}

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  await freshDom0();
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

describe('dom0 before anything filled in its memory nodes (finding 2)', () => {
  it('list shows it with Mem unknown, list -l, retrieve, diff and name lookup keep the template\'s memory', async () => {
    expect(await store.read('/local/domain/0/memory/target')).toBeUndefined();
    const table = await cli(['list']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stderr).toBe('');
    expect(table.stdout).toMatch(/^Domain-0 +0 +- +0 /m);
    expect(table.stdout).toMatch(/^alpha +1 +256 +1 /m);
    const json = await cli(['--json', 'list', '0']);
    expect(JSON.parse(json.stdout)).toEqual([{ domid: 0, name: 'Domain-0', memkb: null, vcpus: 0 }]);

    const long = await cli(['list', '-l']);
    expect(long.code, long.stderr).toBe(0);
    const listed = parseDomainList(long.stdout);
    expect(listed.map((entry) => entry.domid)).toEqual([0, 1, 2]);
    expect(listed[0]!.config.b_info.max_memkb).toBe(DOM0_MAX_MEMKB);

    const retrieved = await cli(['retrieve', 'Domain-0']);
    expect(retrieved.code, retrieved.stderr).toBe(0);
    const config = parseDomainConfig(retrieved.stdout);
    expect(config.c_info.name).toBe('Domain-0');
    expect([config.b_info.max_memkb, config.b_info.target_memkb]).toEqual([DOM0_MAX_MEMKB, DOM0_MAX_MEMKB]);

    const drift = await cli(['--json', 'diff', '0']);
    expect(drift.code, drift.stderr).toBe(0);
    expect(JSON.parse(drift.stdout).scalars).toContainEqual({ field: 'b_info.max_memkb', stored: 4194304, differs: false });
  });

  it('once a toolstack wrote dom0\'s memory nodes, they are its live values', async () => {
    await store.write('/local/domain/0/memory/target', '1048576');
    await store.write('/local/domain/0/memory/static-max', '2097152');
    try {
      expect((await cli(['list', '0'])).stdout).toMatch(/^Domain-0 +0 +1024 +0 /m);
      const config = parseDomainConfig((await cli(['retrieve', '0'])).stdout);
      expect([config.b_info.max_memkb, config.b_info.target_memkb]).toEqual([2097152n, 1048576n]);
      // Another domain without memory/target is still an error naming the node.
      await store.rm('/local/domain/1/memory/target');
      const broken = await cli(['list']);
      expect(broken.code).toBe(1);
      expect(broken.stderr).toMatch(/domain 1: .*memory\/target/);
    } finally {
      await store.rm('/local/domain/0/memory');
      await store.write('/local/domain/1/memory/target', '262144');
    }
  });
});

/** The command with its standard output on /dev/full (every write fails with ENOSPC). */
async function toDevFull(args: string[]): Promise<CliResult> {
  const full = openSync('/dev/full', 'w');
  try {
    const child = spawn(process.execPath, [CLI, '--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, ...args], { stdio: ['ignore', full, 'pipe'] });
    let stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout: '', stderr };
  } finally {
    closeSync(full);
  }
}

describe('output that cannot be written (finding 5)', () => {
  it.each([[['list', '-l']], [['list']], [['retrieve', '1']], [['show-template', '1']], [['--help']]])('%j > /dev/full is one line and exit 1, no stack trace', async (args) => {
    const result = await toDevFull(args);
    expectOneLineError(result, 1, /^xen-domconfig: cannot write standard output: ENOSPC: no space left on device$/);
  });
});

describe('dom0 by domid or name, with its nil uuid (finding 7)', () => {
  it('show-template 0, show-template Domain-0 and store 0 FILE work as retrieve 0 does', async () => {
    const shown = await cli(['show-template', '0']);
    expect(shown.code, shown.stderr).toBe(0);
    expect(parseDomainConfig(shown.stdout).c_info.name).toBe('Domain-0');
    expect((await cli(['show-template', 'Domain-0'])).stdout).toBe(shown.stdout);

    const config = parseDomainConfig(shown.stdout);
    config.b_info.max_memkb = DOM0_MAX_MEMKB * 2n;
    const file = join(userdata.dir, 'dom0.json');
    writeFileSync(file, formatDomainConfig(config));
    try {
      const stored = await cli(['store', '0', file]);
      expect(stored.code, stored.stderr).toBe(0);
      expect(parseDomainConfig((await cli(['show-template', '0'])).stdout).b_info.max_memkb).toBe(DOM0_MAX_MEMKB * 2n);
      expect(parseDomainConfig((await cli(['retrieve', '0'])).stdout).c_info.uuid).toBe(NIL_UUID);
    } finally {
      config.b_info.max_memkb = DOM0_MAX_MEMKB;
      writeFileSync(file, formatDomainConfig(config));
      expect((await cli(['store', '0', file])).code).toBe(0);
      rmSync(file);
    }
  });
});

/** The domain's template text as libxl would write it, with `edit` applied to its JSON. */
function templateTextWith(domain: FixtureDomain, edit: (json: Record<string, Record<string, unknown>>) => void): string {
  const json = JSON.parse(formatDomainConfig(templateFor(domain))) as Record<string, Record<string, unknown>>;
  edit(json);
  return `${JSON.stringify(json, null, 4)}\n`;
}

describe('known keys of the wrong JSON type (finding 9)', () => {
  let backend: LocalBackend;
  beforeAll(async () => { backend = await startLocalBackend(store); });
  afterAll(async () => { await backend?.stop(); });

  it.each([
    ['b_info.max_memkb', (json: Record<string, Record<string, unknown>>) => { json.b_info!.max_memkb = 'lots'; }, /b_info\.max_memkb: expected an integer in 0\.\.18446744073709551615, found "lots"/],
    ['on_poweroff', (json: Record<string, Record<string, unknown>>) => { (json as Record<string, unknown>).on_poweroff = 3; }, /on_poweroff: expected one of destroy, .* \(action_on_shutdown\), found 3/],
    ['b_info.kernel', (json: Record<string, Record<string, unknown>>) => { json.b_info!.kernel = 42; }, /b_info\.kernel: expected a string or null, found 42/],
  ])('store refuses %s with its JSON path (exit 5), nothing written', async (_path, edit, message) => {
    const file = join(userdata.dir, '..', `wrong-type-${process.pid}.json`);
    writeFileSync(file, templateTextWith(DOMAINS[1]!, edit));
    try {
      const result = await unchangedBy(() => cli(['store', '2', file]));
      expectOneLineError(result, 5, message);
    } finally {
      rmSync(file);
    }
  });

  it('block-attach keeps what a template holds of the wrong type, verbatim, where libxl drops it', async () => {
    const gamma: FixtureDomain = { domid: 3, name: 'gamma', type: 'pv' };
    await createDomain(store, userdata.dir, gamma);
    const text = templateTextWith(gamma, (json) => {
      json.b_info!.kernel = 42;
      (json as Record<string, unknown>).on_poweroff = 3;
      json.c_info!.ssidref = 'x';
    });
    writeFileSync(join(userdata.dir, `userdata-d.3.${uuidOf(3)}.libxl-json`), `${text}\0`);
    const image = join(userdata.dir, 'gamma.img');
    writeFileSync(image, '');
    const attached = await cli(['block-attach', '3', `${image},raw,xvdb,w`]);
    expect(attached.code, attached.stderr).toBe(0);
    const stored = JSON.parse((await cli(['show-template', '3'])).stdout) as Record<string, Record<string, unknown>>;
    expect(stored.b_info!.kernel).toBe(42);
    expect((stored as Record<string, unknown>).on_poweroff).toBe(3);
    expect(stored.c_info!.ssidref).toBe('x');
    expect((stored as Record<string, unknown>).disks).toMatchObject([{ pdev_path: image, vdev: 'xvdb' }]);
    // retrieve reads them as libxl does: absent, the defaults stand.
    const retrieved = await cli(['retrieve', '3']);
    expect(retrieved.code, retrieved.stderr).toBe(0);
    expect(parseDomainConfig(retrieved.stdout).on_poweroff).toBe('destroy');
  });

  it('block-attach refuses to write over a wrong-typed value it would lose (exit 5), nothing changed', async () => {
    const delta: FixtureDomain = { domid: 4, name: 'delta', type: 'pv' };
    await createDomain(store, userdata.dir, delta);
    const text = templateTextWith(delta, (json) => { (json as Record<string, unknown>).disks = 'none yet'; });
    writeFileSync(join(userdata.dir, `userdata-d.4.${uuidOf(4)}.libxl-json`), `${text}\0`);
    const image = join(userdata.dir, '..', `delta-${process.pid}.img`);
    writeFileSync(image, '');
    const result = await unchangedBy(() => cli(['block-attach', '4', `${image},raw,xvdb,w`]));
    rmSync(image);
    expectOneLineError(result, 5, /disks: expected an array in the template before a value is written over it, found "none yet"/);
  });
});
