// The bad-input corpus of the command line, against a private real xenstored:
// malformed, oversized, wrong-typed, out-of-range and hostile inputs for every
// command (ids, options, specs, templates, xenstore values, environment,
// output). Each case asserts the documented exit code, at most one line on
// stderr and no stack trace, and a userdata folder and xenstore byte-identical
// before and after.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDomainConfig } from '../../lib/config/index.js';
import { startLocalBackend, type LocalBackend } from '../../lib/localxen/backend.js';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { CLI, type CliResult } from '../cli/run.js';
import { createDomain, tempUserdataDir, templateFor, uuidOf, type FixtureDomain } from '../domain/fixture.js';
import { hostSnapshot, withoutLockFiles } from '../harness/snapshot.js';
import { useLocalXenstored } from '../harness/xenstored.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
/** Input files live beside the userdata folder, not in it (the folder is compared byte for byte). */
const inputs = tempUserdataDir();
let store: XenStore;
let backend: LocalBackend;

const GOOD: FixtureDomain = { domid: 1, name: 'good', type: 'pv' };

/** Domains whose xenstore or template holds one hostile value each: [domid, what, how]. */
const HOSTILE: [number, string, (xenstore: XenStore, dir: string) => Promise<void>][] = [
  [10, 'memory/target not a number', (x) => x.write('/local/domain/10/memory/target', 'lots')],
  [11, 'memory/target beyond uint64', (x) => x.write('/local/domain/11/memory/target', '99999999999999999999999')],
  [12, 'memory/static-max negative', (x) => x.write('/local/domain/12/memory/static-max', '-1')],
  [13, 'vm path escaping /vm', (x) => x.write('/local/domain/13/vm', '/vm/../../etc/passwd')],
  [14, 'vm path of 3000 bytes', (x) => x.write('/local/domain/14/vm', `/vm/${'a'.repeat(3000)}`)],
  [15, 'name missing', (x) => x.rm('/local/domain/15/name')],
  [16, 'template is not JSON', async (_x, dir) => { writeFileSync(join(dir, `userdata-d.16.${uuidOf(16)}.libxl-json`), '{"c_info": \0'); }],
  [17, 'template is empty', async (_x, dir) => { writeFileSync(join(dir, `userdata-d.17.${uuidOf(17)}.libxl-json`), ''); }],
  [18, 'template is a directory', async (_x, dir) => {
    const file = join(dir, `userdata-d.18.${uuidOf(18)}.libxl-json`);
    const { rmSync } = await import('node:fs');
    rmSync(file);
    mkdirSync(file);
  }],
  [19, 'template nested 100000 deep', async (_x, dir) => {
    writeFileSync(join(dir, `userdata-d.19.${uuidOf(19)}.libxl-json`), `{"c_info": ${'['.repeat(100_000)}${']'.repeat(100_000)}}\0`);
  }],
  [20, 'template missing', async (_x, dir) => {
    const { rmSync } = await import('node:fs');
    rmSync(join(dir, `userdata-d.20.${uuidOf(20)}.libxl-json`));
  }],
  [21, 'a /libxl vbd node with a hostile vdev', async (x) => {
    await x.write('/libxl/21/device/vbd/51728/backend', '/local/domain/0/backend/vbd/21/51728');
    await x.write('/libxl/21/device/vbd/51728/frontend', '/local/domain/21/device/vbd/51728');
    await x.write('/libxl/21/device/vbd/51728/vdev', `xvdb${'\n'.repeat(3)}../../x`);
  }],
  [22, 'a name of 3000 bytes with a newline', (x) => x.write('/local/domain/22/name', `evil\n${'n'.repeat(3000)}`)],
];

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  await createDomain(store, userdata.dir, GOOD);
  for (const [domid, what, make] of HOSTILE) {
    await createDomain(store, userdata.dir, { domid, name: `hostile${domid}`, type: 'pv' });
    try {
      await make(store, userdata.dir);
    } catch (error) {
      throw new Error(`domain ${domid} (${what}): ${(error as Error).message}`);
    }
  }
  backend = await startLocalBackend(store);
  // A retrieve that saw a domain alive keeps its lock file for the next holder (README): one
  // list first, so that the files a refusal may keep are there before every case.
  await new XenHost({ xenstore: store, userdataDir: userdata.dir }).listDomains({ long: true });
});

afterAll(async () => {
  await backend?.stop();
  await store?.close();
  userdata.remove();
  inputs.remove();
});

/** A template file for store, beside the folder. */
function input(name: string, content: string | Uint8Array): string {
  const path = join(inputs.dir, name);
  writeFileSync(path, content);
  return path;
}

const goodTemplate = () => formatDomainConfig(templateFor(GOOD));
/** The good domain's template with its JSON edited. */
function edited(edit: (json: Record<string, Record<string, unknown>>) => void): string {
  const json = JSON.parse(goodTemplate()) as Record<string, Record<string, unknown>>;
  edit(json);
  return JSON.stringify(json);
}

interface CliCase {
  args: string[];
  exit: number;
  /** What the one line on stderr says. */
  says?: RegExp;
  input?: string | (() => string);
  env?: Record<string, string | undefined>;
  /** No --xenstore/--userdata-dir of this test (the case sets its own); 'daemon': --xenstore only. */
  bare?: boolean | 'daemon';
  /** Standard output on /dev/full. */
  devFull?: boolean;
}

const ID_CASES: [string, number, RegExp][] = [
  ['32752', 2, /invalid domain id '32752'/],
  ['99999999999999999999', 2, /invalid domain id/],
  ['4294967297', 2, /invalid domain id/],
  ['0x1', 4, /no domain is named '0x1'/],
  ['1e3', 4, /no domain is named '1e3'/],
  [' 1', 4, /no domain is named ' 1'/],
  ['', 4, /no domain is named ''/],
  ['../../etc/passwd', 4, /no domain is named/],
  ['d'.repeat(20_000), 4, /no domain is named/],
  ['näme\u202e', 4, /no domain is named/],
  ['-1', 2, /invalid domain id '-1'/],
];

const CASES: Record<string, CliCase> = {};
const add = (name: string, c: CliCase) => { CASES[name] = c; };

// ids and names, for every command that takes a domain
for (const command of [['retrieve'], ['diff'], ['show-template'], ['list', '-l'], ['block-detach', '@', 'xvdb'], ['network-detach', '@', '0'], ['block-attach', '@', 'phy:/dev/null,xvdc,r'], ['network-attach', '@', 'bridge=xenbr0']]) {
  // Every form for retrieve; for the others, one of each kind (they share resolveDomain).
  for (const [id, exit, says] of command[0] === 'retrieve' ? ID_CASES : ID_CASES.filter(([id]) => ['32752', '1e3', '-1'].includes(id))) {
    const args = command.includes('@') ? command.map((a) => (a === '@' ? id : a)) : [...command, id];
    add(`${command[0]} ${command[1] === '-l' ? '-l ' : ''}id ${JSON.stringify(id.slice(0, 24))}`, { args, exit, says });
  }
}
for (const [id, exit] of [['32752', 2], ['-5', 2], ['1.5', 2], ['one', 2], ['', 2], ['99999999999999999999', 2]] as const) {
  add(`store id ${JSON.stringify(id)}`, { args: ['store', id, '/dev/null'], exit, says: /invalid domain id|unknown option/ });
}

// options and arguments
add('unknown command', { args: ['frobnicate'], exit: 2, says: /unknown command 'frobnicate'/ });
add('unknown global option', { args: ['--frob', 'list'], exit: 2, says: /unknown option '--frob'/ });
add('unknown list option', { args: ['list', '--long-ish'], exit: 2, says: /unknown option/ });
add('--userdata-dir without a value', { args: ['list', '--userdata-dir'], exit: 2, says: /argument missing|unknown option/ });
add('missing argument', { args: ['block-attach', '1'], exit: 2, says: /missing required argument/ });
add('extra argument', { args: ['retrieve', '1', '2'], exit: 2, says: /too many arguments/ });
add('--userdata-dir that does not exist', { args: ['--userdata-dir', '/nonexistent/xen', 'retrieve', '1'], exit: 4, says: /userdata folder \/nonexistent\/xen does not exist/, bare: 'daemon' });
add('--userdata-dir that is a file', { args: ['--userdata-dir', '/dev/null', 'retrieve', '1'], exit: 1, says: /\/dev\/null/, bare: 'daemon' });
add('--xenstore that is a regular file', { args: ['--xenstore', '/etc/hostname', 'list'], exit: 3, says: /xenstored/, bare: true });
add('--xenstore empty', { args: ['--xenstore', '', 'list'], exit: 2, says: /--xenstore needs the path/, bare: true });
add('--xenstore of 5000 bytes', { args: ['--xenstore', `/${'s'.repeat(5000)}`, 'list'], exit: 3, says: /cannot connect to xenstored/, bare: true });
add('completion for an unknown shell', { args: ['completion', 'fish'], exit: 2, says: /'fish' is invalid for argument 'shell'/ });

// devices and their specs
add('block-detach of an unknown vdev', { args: ['block-detach', '1', 'xvdz'], exit: 4, says: /xvdz/ });
add('block-detach of a hostile vdev', { args: ['block-detach', '1', '../../../x'], exit: 4, says: /domain 1 has no disk/ });
add('block-detach of a 10000-byte vdev', { args: ['block-detach', '1', 'x'.repeat(10_000)], exit: 4, says: /domain 1 has no disk/ });
add('network-detach neither devid nor MAC', { args: ['network-detach', '1', 'eth0'], exit: 2, says: /neither a devid .* nor a MAC/ });
add('network-detach of a huge devid', { args: ['network-detach', '1', '99999999999999999999'], exit: 2, says: /neither a devid/ });
add('network-detach of a malformed MAC', { args: ['network-detach', '1', 'zz:zz'], exit: 2, says: /neither a devid/ });
add('block-attach empty spec', { args: ['block-attach', '1', ''], exit: 2, says: /invalid disk specification/ });
add('block-attach unknown key', { args: ['block-attach', '1', 'phy:/dev/null,xvdc,r,frob=1'], exit: 2, says: /invalid disk specification/ });
add('block-attach bad vdev', { args: ['block-attach', '1', 'phy:/dev/null,xvd,r'], exit: 2, says: /vdev|invalid disk/ });
add('block-attach bad access mode', { args: ['block-attach', '1', 'phy:/dev/null,xvdc,q'], exit: 2, says: /invalid disk specification/ });
add('block-attach spec of 100 KiB', { args: ['block-attach', '1', `phy:/${'p'.repeat(100 * 1024)},xvdc,r`], exit: 2, says: /invalid disk specification: pdev_path is 102401 bytes/ });
add('block-attach target with a newline', { args: ['block-attach', '1', 'format=raw,vdev=xvdc,target=/dev/null\nxvdd'], exit: 2, says: /invalid disk specification|newline|control/ });
add('block-attach of a disk', { args: ['block-attach', '1', 'phy:/dev/null,xvda,r'], exit: 0 });
add('block-attach of a vdev in use', { args: ['block-attach', '1', 'phy:/dev/null,xvda,r'], exit: 1, says: /already exists/ });
add('network-attach unknown key', { args: ['network-attach', '1', 'vlan=3'], exit: 2, says: /unknown key 'vlan'/ });
add('network-attach malformed MAC', { args: ['network-attach', '1', 'mac=00:16:3e:zz:00:01'], exit: 2, says: /mac/i });
add('network-attach malformed rate', { args: ['network-attach', '1', 'rate=fast'], exit: 2, says: /rate/ });
add('network-attach devid out of range', { args: ['network-attach', '1', 'devid=99999999999'], exit: 2, says: /devid/ });
add('network-attach negative devid', { args: ['network-attach', '1', 'devid=-2'], exit: 2, says: /devid/ });
add('network-attach bridge of 5000 bytes', { args: ['network-attach', '1', `bridge=${'b'.repeat(5000)}`], exit: 2, says: /invalid vif specification: bridge is 5000 bytes/ });
add('network-attach key without =', { args: ['network-attach', '1', 'bridge'], exit: 2, says: /invalid vif specification/ });
add('network-attach backend naming no domain', { args: ['network-attach', '1', 'backend=nosuch'], exit: 4, says: /no domain is named 'nosuch'/ });

// templates given to store
const templates: [string, () => string | Uint8Array, number, RegExp][] = [
  ['an empty file', () => '', 5, /libxl-json|empty/],
  ['not JSON', () => '{"c_info":', 5, /libxl-json/],
  ['a JSON array', () => '[]', 5, /libxl-json: document: expected a JSON object/],
  ['JSON null', () => 'null', 5, /libxl-json/],
  ['a bare string', () => '"x"', 5, /libxl-json/],
  ['nesting 100000 deep', () => `{"c_info": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`, 5, /libxl-json/],
  ['invalid UTF-8', () => Buffer.concat([Buffer.from('{"c_info": {"name": "'), Buffer.from([0xff, 0xfe]), Buffer.from('"}}')]), 5, /UTF-8|libxl-json/],
  ['a NUL in the middle', () => `${goodTemplate().slice(0, 10)}\0${goodTemplate().slice(10)}`, 5, /libxl-json|NUL/],
  ['an unknown enum value', () => edited((j) => { j.c_info!.type = 'hvm-ish'; }), 5, /c_info\.type: expected one of/],
  ['a malformed uuid', () => edited((j) => { j.c_info!.uuid = 'not-a-uuid'; }), 5, /c_info\.uuid: expected a UUID/],
  ['an integer out of range', () => edited((j) => { j.b_info!.max_vcpus = 2 ** 40; }), 5, /b_info\.max_vcpus: expected an integer/],
  ['a negative uint64', () => edited((j) => { j.b_info!.max_memkb = -1; }), 5, /b_info\.max_memkb: expected an integer/],
  ['a number of 400 digits', () => edited((j) => { j.b_info!.max_memkb = 0; }).replace('"max_memkb":0', `"max_memkb":${'9'.repeat(400)}`), 5, /b_info\.max_memkb/],
  ['a wrong-typed known key', () => edited((j) => { j.b_info!.max_memkb = 'lots'; }), 5, /b_info\.max_memkb: expected an integer/],
  ['a disk that is not an object', () => edited((j) => { (j as Record<string, unknown>).disks = [42]; }), 5, /disks\[0\]/],
  ['two arms of the type union', () => goodTemplate().replace('"b_info": {', '"b_info": {"type.pv": {}, "type.hvm": {},'), 5, /type\.(pv|hvm)/],
  ['a file of 17 MiB', () => `{"x": "${'x'.repeat(17 * 1024 * 1024)}"}`, 5, /more than the \d+ bytes/],
];
for (const [what, content, exit, says] of templates) {
  add(`store of ${what}`, { args: ['store', '1', '@file'], input: () => input(`t-${what.replace(/\W+/g, '-')}.json`, content()), exit, says });
  // The same bytes on stdin, for a few (the reading is the same).
  if (['an empty file', 'not JSON', 'a file of 17 MiB', 'invalid UTF-8'].includes(what)) add(`store of ${what} on stdin`, { args: ['store', '1', '-'], input: () => { const c = content(); return typeof c === 'string' ? c : Buffer.from(c).toString('latin1'); }, exit, says });
}
add('store of a file that does not exist', { args: ['store', '1', '/nonexistent/file.json'], exit: 4, says: /cannot read \/nonexistent\/file\.json/ });
add('store of a directory', { args: ['store', '1', '/tmp'], exit: 1, says: /cannot read \/tmp/ });
add('store for a domain that does not exist', { args: ['store', '77', '@file'], input: () => input('good.json', goodTemplate()), exit: 4, says: /domain 77/ });

// hostile xenstore values and templates, for each command that reads them
for (const [domid, what] of HOSTILE) {
  const expected: Record<number, [number, RegExp]> = {
    16: [5, /not a domain configuration|libxl-json/], 17: [5, /empty/], 18: [1, /userdata-d\.18/], 19: [5, /libxl-json/], 20: [4, /no template/],
  };
  const [exit, says] = expected[domid] ?? [1, new RegExp(`domain ${domid}`)];
  for (const command of [['retrieve'], ['diff'], ['list', '-l']]) {
    if (domid === 21 || domid === 22) continue; // readable: checked below
    add(`${command.join(' ')} of a domain whose ${what}`, { args: [...command, String(domid)], exit, says });
  }
}
add('retrieve of a domain with a hostile /libxl vdev reports it and succeeds', { args: ['retrieve', '21'], exit: 0 });
add('list names each domain that fails, prints the others', { args: ['list'], exit: 1, says: /domain \d+/ });
add('retrieve of a domain whose name has a newline and 3000 bytes', { args: ['retrieve', '22'], exit: 0 });

// environment
add('XENSTORED_PATH naming nothing', { args: ['--userdata-dir', '/tmp', 'list'], env: { XENSTORED_PATH: '/nonexistent/socket' }, exit: 3, says: /cannot connect to xenstored.*\/nonexistent\/socket/, bare: true });
add('XENSTORED_RUNDIR naming nothing', { args: ['list'], env: { XENSTORED_PATH: undefined, XENSTORED_RUNDIR: '/nonexistent' }, exit: 3, says: /cannot connect to xenstored/, bare: true });
add('XEN_DOMCONFIG_NATIVE naming nothing', { args: ['list'], env: { XEN_DOMCONFIG_NATIVE: '/nonexistent/x.node' }, exit: 3, says: /XEN_DOMCONFIG_NATIVE/ });
add('XEN_DOMCONFIG_NATIVE naming a file that is no addon', { args: ['list'], env: { XEN_DOMCONFIG_NATIVE: '/etc/hostname' }, exit: 3, says: /XEN_DOMCONFIG_NATIVE|addon/ });
add('XEN_DOMCONFIG_LIBXENSTORE naming nothing, with --xenstore', { args: ['retrieve', '1'], env: { XEN_DOMCONFIG_LIBXENSTORE: '/nonexistent/libxenstore.so' }, exit: 3, says: /libxenstore/ });
add('XDG_CACHE_HOME that is a file', { args: ['retrieve', '999'], env: { XDG_CACHE_HOME: '/dev/null' }, exit: 4, says: /domain 999 does not exist/ });

// output that cannot be written
for (const command of [['list', '1'], ['list', '-l', '1'], ['retrieve', '1'], ['diff', '1'], ['show-template', '1'], ['--help'], ['completion', 'bash']]) {
  add(`${command.join(' ')} > /dev/full`, { args: command, exit: 1, says: /cannot write standard output: ENOSPC/, devFull: true });
}

async function run(c: CliCase): Promise<CliResult> {
  let args = c.args;
  let stdin: string | undefined;
  if (c.args.includes('@file')) args = c.args.map((a) => (a === '@file' ? (c.input as () => string)() : a));
  else if (c.input !== undefined) stdin = typeof c.input === 'function' ? c.input() : c.input;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [key, value] of Object.entries(c.env ?? {})) {
    if (value === undefined) delete env[key];
    else env[key] = value;
  }
  const full = c.devFull ? openSync('/dev/full', 'w') : undefined;
  try {
    const own = c.bare === true ? [] : c.bare === 'daemon' ? ['--xenstore', xs.current.socketPath] : ['--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir];
    const argv = [CLI, ...own, '--no-hotplug-scripts', ...args];
    const child = spawn(process.execPath, argv, { env, stdio: ['pipe', full ?? 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (text: string) => { stdout += text; });
    child.stderr!.setEncoding('utf8').on('data', (text: string) => { stderr += text; });
    child.stdin!.on('error', () => undefined); // a command that refuses early closes its stdin
    child.stdin!.end(stdin === undefined ? undefined : Buffer.from(stdin, typeof c.input === 'function' && c.args.includes('-') && /[^\x00-\x7f]/.test(stdin) ? 'latin1' : 'utf8'));
    const [code, signal] = await once(child, 'close') as [number | null, NodeJS.Signals | null];
    return { code, signal, stdout, stderr };
  } finally {
    if (full !== undefined) closeSync(full);
  }
}

// Cases that succeed may leave what a success leaves (a kept lock file): they run first, alone.
describe('hostile values the command line reads through', () => {
  it.each(Object.entries(CASES).filter(([, c]) => c.exit === 0))('%s', async (_name, c) => {
    const result = await run(c);
    expect(result.code, `stderr: ${result.stderr}`).toBe(0);
    expect(result.stderr).not.toMatch(/\n\s+at |^\s+at /m);
  });
});

// The refusals change nothing, so they run side by side: a change by any would show in the others' snapshots too.
describe.concurrent('the command line refuses bad input in one line and loses nothing', () => {
  it.each(Object.entries(CASES).filter(([, c]) => c.exit !== 0))('%s', async (_name, c) => {
    const before = await hostSnapshot(store, userdata.dir);
    const result = await run(c);
    const after = await hostSnapshot(store, userdata.dir);
    expect(result.code, `stderr: ${result.stderr.slice(0, 500)}`).toBe(c.exit);
    expect(result.stderr).not.toMatch(/\n\s+at |^\s+at /m);
    const lines = result.stderr.split('\n').filter((line) => line !== '');
    if (c.args[0] === 'list' && c.args.length === 1) expect(lines.length).toBeGreaterThan(0); // one line per failed domain
    else expect(lines, result.stderr.slice(0, 2000)).toHaveLength(1);
    expect(lines[0]).toMatch(/^xen-domconfig: /);
    if (c.says) expect(lines[0]).toMatch(c.says);
    expect(after.xenstore).toBe(before.xenstore);
    expect(withoutLockFiles(after.folder)).toEqual(withoutLockFiles(before.folder));
  });
});
