// The command line end to end: the built dist/bin/xen-domconfig.js against a
// private real xenstored, domains laid out as libxl's create leaves them.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { chmodSync, existsSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatDomainConfig, formatDomainList, parseDomainConfig, parseDomainList } from '../../lib/config/index.js';
import { startLocalBackend, type LocalBackend } from '../../lib/localxen/backend.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir, templateFor, uuidOf, type FixtureDomain } from '../domain/fixture.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { CLI, runCli } from './run.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;

const DOMAINS: FixtureDomain[] = [
  { domid: 1, name: 'alpha', type: 'pv', maxVcpus: 4, onlineVcpus: 2, targetMemKb: 524288, maxMemKb: 1048576 },
  { domid: 2, name: 'beta', type: 'pvh' },
  { domid: 5, name: 'broken', type: 'pv' },
];

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  for (const domain of DOMAINS) await createDomain(store, userdata.dir, domain);
  // domain 5's template is not a domain configuration
  writeFileSync(join(userdata.dir, `userdata-d.5.${uuidOf(5)}.libxl-json`), '{"c_info": {"type": "nonsense"}}\0');
});

afterAll(async () => {
  await store?.close();
  userdata.remove();
});

/** The command with this test's xenstored and userdata dir. */
// The fake backend plays the hotplug scripts' part.
const cli = (...args: string[]) => runCli(['--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, '--no-hotplug-scripts', ...args]);

function expectOneLineError(stderr: string, pattern: RegExp): void {
  const lines = stderr.trimEnd().split('\n');
  expect(lines[0]).toMatch(/^xen-domconfig: /);
  expect(lines[0]).toMatch(pattern);
  expect(stderr).not.toMatch(/\n\s+at /); // no stack trace without --debug
}

describe('usage', () => {
  it('prints help with the commands and the exit codes', async () => {
    const result = await runCli(['--help']);
    expect(result.code).toBe(0);
    for (const command of [
      'list', 'retrieve', 'diff', 'show-template', 'store', 'block-attach', 'block-detach', 'network-attach', 'network-detach',
      'vtpm-attach', 'vtpm-detach', 'vkb-attach', 'vkb-detach', 'vdispl-attach', 'vdispl-detach', 'vsnd-attach', 'vsnd-detach', 'usbctrl-attach', 'usbctrl-detach', 'usbdev-attach', 'usbdev-detach', 'block-list', 'network-list', 'vtpm-list', 'vkb-list',
      'vdispl-list', 'vsnd-list', 'usb-list', 'pci-list', 'channel-list', 'demo',
    ]) {
      expect(result.stdout).toContain(command);
    }
    expect(result.stdout).toMatch(/Exit codes:[^]*3 +xenstored is not reachable/);
  });

  it.each([
    [['frob'], /unknown command 'frob'/],
    [['retrieve'], /missing required argument 'domain'/],
    [['list', '--bogus'], /unknown option '--bogus'/],
    [['retrieve', '99999'], /invalid domain id '99999'/],
    [['store', 'alpha', '/dev/null'], /invalid domain id 'alpha'/],
    [['block-attach', '1', 'phy:/dev/vg/x,xvdb,w,extra'], /invalid disk specification .*too many positional parameters/],
    [['network-attach', '1', 'vlan=3'], /invalid vif specification .*unknown key 'vlan'/],
    [['network-detach', '1', 'eth0'], /neither a devid \(0 to 2147483647\) nor a MAC address/],
  ])('%j is a usage error (exit 2)', async (args, message) => {
    const result = await cli(...args);
    expect(result.code).toBe(2);
    expectOneLineError(result.stderr, message);
    expect(result.stdout).toBe('');
  });
});

describe('failures are one actionable line', () => {
  it('says when no xenstored is reachable (exit 3)', async () => {
    const result = await runCli(['--xenstore', '/nonexistent/socket', 'list']);
    expect(result.code).toBe(3);
    expectOneLineError(result.stderr, /cannot connect to xenstored .*\/nonexistent\/socket.*--xenstore/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('says no xenstored first, whatever else is missing, for every command that needs it', async () => {
    for (const command of [['list', '-l'], ['retrieve', '1'], ['diff', '1'], ['show-template', '1'], ['block-detach', '1', 'xvdb'], ['network-detach', '1', '0']]) {
      const result = await runCli(['--xenstore', '/nonexistent/socket', '--userdata-dir', '/nonexistent/xen', ...command]);
      expect(result.code, command.join(' ')).toBe(3);
      expectOneLineError(result.stderr, /cannot connect to xenstored/);
    }
  });

  it('finds xenstored through XENSTORED_PATH', async () => {
    const result = await runCli(['--userdata-dir', userdata.dir, 'list'], { env: { ...process.env, XENSTORED_PATH: xs.current.socketPath } });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('alpha');
  });

  it('names an unknown domain (exit 4)', async () => {
    for (const which of ['9', 'nosuch']) {
      const result = await cli('retrieve', which);
      expect(result.code).toBe(4);
      expectOneLineError(result.stderr, which === '9' ? /domain 9 does not exist/ : /no domain is named 'nosuch'/);
    }
  });

  it('names a corrupt template with its path (exit 5)', async () => {
    const result = await cli('retrieve', 'broken');
    expect(result.code).toBe(5);
    expectOneLineError(result.stderr, new RegExp(`userdata-d\\.5\\.${uuidOf(5)}\\.libxl-json`));
  });

  it('says when the userdata dir is missing (exit 4)', async () => {
    const result = await runCli(['--xenstore', xs.current.socketPath, '--userdata-dir', '/nonexistent/xen', 'retrieve', '1']);
    expect(result.code).toBe(4);
    expectOneLineError(result.stderr, /userdata folder \/nonexistent\/xen does not exist.*--userdata-dir/);
  });

  it.skipIf(process.getuid?.() !== 0 || !existsSync('/usr/bin/setpriv'))('says permission denied (exit 6), run as an unprivileged user', async () => {
    const asNobody = (...args: string[]) => runCli(['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, CLI, ...args], { command: '/usr/bin/setpriv' });
    const socket = await asNobody('--xenstore', xs.current.socketPath, 'list');
    expect(socket.code).toBe(6);
    expectOneLineError(socket.stderr, /permission denied connecting to xenstored .*run as root/);

    // A reachable xenstored, but a userdata dir only root may read (mkdtemp makes it 0700).
    const rundir = dirname(xs.current.socketPath);
    const modes = [statSync(rundir).mode & 0o777, statSync(xs.current.socketPath).mode & 0o777];
    chmodSync(xs.current.socketPath, 0o666);
    chmodSync(rundir, 0o755);
    try {
      const result = await asNobody('--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, 'retrieve', '1');
      expect(result.code).toBe(6);
      expectOneLineError(result.stderr, new RegExp(`${userdata.dir}.*permission denied: run as root`));
    } finally {
      chmodSync(rundir, modes[0]!);
      chmodSync(xs.current.socketPath, modes[1]!);
    }
  });

  it('prints the stack with --debug', async () => {
    const result = await cli('--debug', 'retrieve', 'broken');
    expect(result.code).toBe(5);
    expect(result.stderr).toMatch(/\n\s+at /);
  });
});

describe('list', () => {
  it('shows xl list columns from xenstore', async () => {
    const result = await runCli(['--xenstore', xs.current.socketPath, 'list']);
    expect(result.code).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toBe('Name                                        ID   Mem VCPUs\tState\tTime(s)');
    expect(lines).toContain(`${'alpha'.padEnd(40)}     1   512     2     -              -`);
    expect(lines).toContain(`${'beta'.padEnd(40)}     2   256     1     -              -`);
    expect(result.stderr).toBe(''); // nothing stray from Node or V8 on any Node version
  });

  it('selects domains by id or name, and --json gives the rows', async () => {
    const result = await cli('--json', 'list', 'beta', '1');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual([
      { domid: 2, name: 'beta', memkb: 262144, vcpus: 1 },
      { domid: 1, name: 'alpha', memkb: 524288, vcpus: 2 },
    ]);
  });

  it('-l prints every other domain, names the one that fails and exits 1; --all-or-nothing prints none', async () => {
    const failing = await cli('list', '-l');
    expect(failing.code).toBe(1);
    expect(failing.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^xen-domconfig: domain 5: .*userdata-d\.5\./)]);
    expect(parseDomainList(failing.stdout).map((entry) => entry.domid)).toEqual([1, 2]);

    const short = await cli('list');
    expect(short.code).toBe(0); // the short list needs no template
    expect(short.stdout).toMatch(/^broken +5 /m);

    const strict = await cli('list', '-l', '--all-or-nothing');
    expect(strict.code).toBe(1);
    expect(strict.stdout).toBe('');
    expect(strict.stderr).toMatch(/^xen-domconfig: domain 5: /m);
    expect(strict.stderr).toMatch(/1 of 3 domains failed; nothing printed \(--all-or-nothing\)/);
  });

  it('ends quietly with status 141 (as SIGPIPE would) when its reader goes away', async () => {
    const child = spawn(process.execPath, [CLI, '--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, 'list', '-l', '1', '2'],
      { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy(); // the reader is gone before anything is written
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk; });
    const [code] = await once(child, 'close') as [number | null];
    expect(code).toBe(141);
    expect(stderr).toBe('');
  });

  it('-l prints exactly formatDomainList of what retrieve returns', async () => {
    const result = await cli('list', '-l', '1', 'beta');
    expect(result.code).toBe(0);
    const one = parseDomainConfig((await cli('retrieve', '1')).stdout);
    const two = parseDomainConfig((await cli('retrieve', '2')).stdout);
    expect(result.stdout).toBe(formatDomainList([{ domid: 1, config: one }, { domid: 2, config: two }]));
  });
});

describe('retrieve, show-template, store, diff', () => {
  it('retrieve prints the bare config as libxl formats it', async () => {
    const result = await cli('retrieve', 'alpha');
    expect(result.code).toBe(0);
    const config = parseDomainConfig(result.stdout);
    expect(result.stdout).toBe(formatDomainConfig(config));
    expect(config.c_info.name).toBe('alpha');
    expect(config.b_info.avail_vcpus).toEqual([0, 1]);
  });

  it('store replaces the template (from a file or stdin), show-template prints it as stored', async () => {
    const config = templateFor(DOMAINS[1]!);
    config.b_info.max_memkb = 1048576n;
    config.b_info.arch_x86.msr_relaxed = false; // what the create-time save fills in
    const file = join(userdata.dir, 'beta.json');
    writeFileSync(file, formatDomainConfig(config));
    const stored = await cli('store', '2', file);
    expect(stored.code).toBe(0);
    const shown = await cli('show-template', 'beta');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toBe(formatDomainConfig(config));

    config.b_info.max_memkb = 524288n;
    const fromStdin = await runCli(['--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, 'store', '2', '-'],
      { input: formatDomainConfig(config) });
    expect(fromStdin.code).toBe(0);
    expect((await cli('show-template', '2')).stdout).toBe(formatDomainConfig(config));
  });

  it('store refuses a file that is not a domain configuration (exit 5, with the JSON path)', async () => {
    const file = join(userdata.dir, 'bad.json');
    writeFileSync(file, '{"c_info": {"type": "bogus"}}');
    const result = await cli('store', '2', file);
    expect(result.code).toBe(5);
    expectOneLineError(result.stderr, /c_info\.type: expected one of/);
  });

  it('diff shows the refreshed fields and what differs', async () => {
    await store.write('/local/domain/1/memory/target', '262144');
    try {
      const table = await cli('diff', 'alpha');
      expect(table.code).toBe(0);
      expect(table.stdout).toMatch(/^domain 1: the template and xenstore differ$/m);
      expect(table.stdout).toMatch(/^b_info\.target_memkb +524288 +262144 +differs/m);

      const json = await cli('--json', 'diff', '1');
      const report = JSON.parse(json.stdout);
      expect(report).toMatchObject({ domid: 1, drifted: true, onlyInTemplate: [], onlyInXenstore: [] });
      expect(report.scalars).toContainEqual({ field: 'b_info.target_memkb', stored: 524288, live: 262144, differs: true });
    } finally {
      await store.write('/local/domain/1/memory/target', '524288');
    }
  });
});

describe('hotplug', () => {
  let backend: LocalBackend;
  beforeAll(async () => { backend = await startLocalBackend(store); });
  afterAll(async () => { await backend?.stop(); });

  it('block-attach adds a disk from an xl disk spec; block-detach removes it', async () => {
    const image = join(userdata.dir, 'data.img');
    writeFileSync(image, '');
    const attached = await cli('block-attach', 'beta', `${image},raw,xvdb,r`);
    expect(attached.code, attached.stderr).toBe(0);
    expect(attached.stderr).toMatch(/attached disk xvdb to domain 2/);
    const config = parseDomainConfig((await cli('retrieve', 'beta')).stdout);
    expect(config.disks.map((d) => [d.vdev, d.pdev_path, d.readwrite])).toEqual([['xvdb', image, 0]]);

    const again = await cli('block-attach', '2', `format=raw,vdev=xvdb,target=${image}`);
    expect(again.code).toBe(1);
    expectOneLineError(again.stderr, /already exists/);

    const detached = await cli('block-detach', 'beta', 'xvdb');
    expect(detached.code, detached.stderr).toBe(0);
    expect(parseDomainConfig((await cli('retrieve', '2')).stdout).disks).toEqual([]);
  });

  it('network-attach takes xl vif keys; --json prints the stored entry; network-detach takes a MAC', async () => {
    const attached = await cli('--json', 'network-attach', '1', 'bridge=xenbr1', 'mac=00:16:3e:0a:0b:0c', 'rate=10Mb/s');
    expect(attached.code, attached.stderr).toBe(0);
    expect(attached.stdout).toMatch(/"mac": "00:16:3e:0a:0b:0c"/);
    expect(attached.stdout).toMatch(/"rate_bytes_per_interval": 62500/);
    const nics = parseDomainConfig((await cli('retrieve', '1')).stdout).nics;
    expect(nics.map((n) => [n.devid, n.mac, n.bridge])).toEqual([[0, '00:16:3e:0a:0b:0c', 'xenbr1']]);

    const quiet = await cli('--quiet', 'network-attach', 'alpha', 'bridge=xenbr0');
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe('');

    const detached = await cli('network-detach', 'alpha', '00:16:3E:0A:0B:0C');
    expect(detached.code, detached.stderr).toBe(0);
    expect(parseDomainConfig((await cli('retrieve', '1')).stdout).nics.map((n) => n.devid)).toEqual([1]);
    expect((await cli('network-detach', 'alpha', '1')).code).toBe(0);
  });

  it('vtpm-, vkb-, vdispl-, vsnd- and usbctrl-attach take xl\'s specs; the detach verbs take the devid', async () => {
    const vkb = await cli('--json', 'vkb-attach', 'alpha', 'backend-type=linux', 'unique-id=K0', 'width=800');
    expect(vkb.code, vkb.stderr).toBe(0);
    expect(vkb.stderr).toMatch(/attached vkb 0 to domain 1 \(\/local\/domain\/0\/backend\/vinput\/1\/0\)/);
    expect(vkb.stdout).toMatch(/"unique_id": "K0"/);
    const vdispl = await cli('vdispl-attach', '1', 'connectors=c0:640x480;c1:800x600');
    expect(vdispl.code, vdispl.stderr).toBe(0);
    const vsnd = await cli('vsnd-attach', '1', 'card,short-name=S', 'pcm,name=p0', 'stream,unique-id=s0,type=p');
    expect(vsnd.code, vsnd.stderr).toBe(0);
    const config = parseDomainConfig((await cli('retrieve', '1')).stdout);
    expect(config.vkbs.map((v) => [v.devid, v.backend_type, v.unique_id, v.width])).toEqual([[0, 'linux', 'K0', 800]]);
    expect(config.vdispls.map((v) => v.connectors.map((c) => [c.unique_id, c.width, c.height]))).toEqual([[['c0', 640, 480], ['c1', 800, 600]]]);
    expect(config.vsnds.map((v) => [v.short_name, v.pcms.map((p) => [p.name, p.streams.map((t) => t.unique_id)])])).toEqual([['S', [['p0', ['s0']]]]]);
    const vtpm = await cli('vtpm-attach', '1', 'uuid=12BE052A-A3F0-4A5B-8F26-76DC48B1F73A');
    expect(vtpm.code, vtpm.stderr).toBe(0);
    expect(vtpm.stderr).toMatch(/attached vtpm 0 \(uuid 12be052a-a3f0-4a5b-8f26-76dc48b1f73a\) to domain 1/);
    expect((await cli('vtpm-detach', 'alpha', '12be052a-a3f0-4a5b-8f26-76dc48b1f73a')).code).toBe(0);
    expect(parseDomainConfig((await cli('retrieve', '1')).stdout).vtpms).toEqual([]);
    const usbctrl = await cli('usbctrl-attach', '1', 'type=pv', 'version=1', 'ports=2');
    expect(usbctrl.code, usbctrl.stderr).toBe(0);
    expect(usbctrl.stderr).toMatch(/attached usbctrl 0 \(2 ports\) to domain 1/);
    expect(parseDomainConfig((await cli('retrieve', '1')).stdout).usbctrls.map((c) => [c.type, c.version, c.ports])).toEqual([['pv', 1, 2]]);
    for (const noun of ['vkb', 'vdispl', 'vsnd', 'usbctrl']) expect((await cli(`${noun}-detach`, 'alpha', '0')).code).toBe(0);
    const after = parseDomainConfig((await cli('retrieve', '1')).stdout);
    expect([after.vkbs, after.vdispls, after.vsnds, after.usbctrls]).toEqual([[], [], [], []]);
  });

  it('usbdev-attach of a device the host does not have, and usbdev-detach of an empty port, are not found (exit 4) and write nothing', async () => {
    const before = await cli('show-template', '1');
    // libxl__device_usbdev_add: is_usbdev_assignable fails first (no bus 250 address 250 under /sys/bus/usb/devices)
    const attach = await cli('usbdev-attach', 'alpha', 'type=hostdev', 'hostbus=250', 'hostaddr=250');
    expect(attach.code).toBe(4);
    expectOneLineError(attach.stderr, /usbdev: .*bus 250 address 250/);
    // xl usbdev-detach <domain> <ctrl> <port>: libxl_ctrlport_to_device_usbdev finds nothing there
    const detach = await cli('usbdev-detach', 'alpha', '0', '1');
    expect(detach.code).toBe(4);
    expectOneLineError(detach.stderr, /usbdev: domain 1 has no usb controller 0/);
    expect((await cli('show-template', '1')).stdout).toBe(before.stdout);
  });

  it.each([
    [['vkb-attach', '1', 'unique-id=K0'], /invalid vkb specification .*backend-type should be set/],
    [['vkb-attach', '1', 'backend-type=linux', 'colour=red'], /invalid vkb specification .*unknown key 'colour'/],
    [['vdispl-attach', '1', 'connectors=c0:640'], /invalid vdispl specification .*connector 'c0:640'/],
    [['vsnd-attach', '1', 'stream,type=x'], /invalid vsnd specification .*invalid stream type 'x'/],
    [['vkb-detach', '1', 'first'], /'first' is not a devid/],
    [['vdispl-detach', '1', '99999999999999999999'], /'99999999999999999999' is not a devid \(0 to 2147483647\)/],
    [['vtpm-attach', '1', 'uuid=nope'], /invalid vtpm specification .*invalid uuid 'nope'/],
    [['usbctrl-attach', '1', 'type=pv,version=1'], /invalid usbctrl specification .*invalid usb controller type 'pv,version=1'/],
    [['usbdev-attach', '1', 'hostbus=0x1'], /invalid usbdev specification .*'0x1' is not a number from 0 to 255/],
    [['usbdev-attach', '1', 'vendor=0951'], /invalid usbdev specification .*unknown string 'vendor=0951'/],
    [['usbdev-detach', '1', '0', 'first'], /'0 first' is not <controller> <port>/],
  ])('%j is a one-line usage error (exit 2) that writes nothing', async (args, message) => {
    const before = await cli('show-template', '1');
    const result = await cli(...args);
    expect(result.code).toBe(2);
    expectOneLineError(result.stderr, message);
    expect((await cli('show-template', '1')).stdout).toBe(before.stdout);
  });

  it('says which device is unknown (exit 4)', async () => {
    const disk = await cli('block-detach', '1', 'xvdz');
    expect(disk.code).toBe(4);
    expectOneLineError(disk.stderr, /xvdz/);
    const nic = await cli('network-detach', '1', '00:16:3e:99:99:99');
    expect(nic.code).toBe(4);
    expectOneLineError(nic.stderr, /no nic with MAC 00:16:3e:99:99:99/);
  });

  it('leaves a state retrieve handles when killed half-way through a hotplug', async () => {
    const killed = await runCli(['--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, 'network-attach', '2', 'bridge=xenbr0'],
      { env: { ...process.env, XEN_DOMCONFIG_FAULT: 'add.template-written' } });
    expect(killed.signal).toBe('SIGKILL');
    const retrieved = await cli('retrieve', '2');
    expect(retrieved.code).toBe(0);
    expect(parseDomainConfig(retrieved.stdout).nics).toEqual([]);
    const report = JSON.parse((await cli('--json', 'diff', '2')).stdout);
    // (the disk detached earlier is stale in the template too: unplug leaves it, as libxl does)
    expect(report.onlyInTemplate).toEqual([{ kind: 'disk', key: 'xvdb', index: 0 }, { kind: 'nic', key: '0', index: 0 }]);
    // The next attach takes the same devid and replaces the stale entry.
    expect((await cli('network-attach', '2', 'bridge=xenbr0')).code).toBe(0);
    expect(parseDomainConfig((await cli('retrieve', '2')).stdout).nics.map((n) => n.devid)).toEqual([0]);
  });

  it('XEN_DOMCONFIG_FAULT means nothing outside the crash tests: no crash, and a bad value breaks no import', async () => {
    const env = { ...process.env, XEN_DOMCONFIG_FAULT: 'add.template-written' };
    const plain = await runCli([CLI, '--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, '--no-hotplug-scripts', 'network-attach', '2', 'bridge=xenbr0'],
      { env, command: process.execPath });
    expect(plain).toMatchObject({ code: 0, signal: null });
    expect(parseDomainConfig((await cli('retrieve', '2')).stdout).nics.map((n) => n.devid)).toEqual([0, 1]);
    const imported = await runCli(['--input-type=module', '-e', `await import(${JSON.stringify(join(dirname(CLI), '../lib/index.js'))}); console.log('imported')`],
      { env: { ...process.env, XEN_DOMCONFIG_FAULT: 'no-such-point:zero' }, command: process.execPath });
    expect(imported).toMatchObject({ code: 0, stdout: 'imported\n', stderr: '' });
  });
});
