// `xen-domconfig demo`: xen-domconfig at work on a machine without Xen.
// It starts the project's private copy of Debian's real xenstored, creates a
// small host the way libxl's create would (xenstore nodes, templates, device
// hotplug through the library), then runs the command line itself: a disk
// hotplug, a network hotplug killed half-way, `list -l` and the drift report.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDevice, parseDomainConfig } from '../config/index.js';
import { XenHost } from '../host.js';
import { FAULT_ENV } from '../domain/faults.js';
import { startLocalBackend } from '../localxen/backend.js';
import { layOutDomain, type LocalDomain } from '../localxen/domains.js';
import { startLocalXenstored } from '../localxen/xenstored.js';
import { XenStore } from '../xenstore/index.js';
import { undoOnExit } from './cleanup.js';
import type { CommandContext } from './context.js';
import { CliError, EXIT, type ExitCode } from './errors.js';
import { packageRoot } from '../util/package-root.js';
import { parseDiskSpec } from '../devices/kinds/disk.js';
import { parseVifSpec } from '../devices/kinds/nic.js';

interface DemoDomain extends LocalDomain {
  disks: string[];
  vifs: string[];
}

const DOM0: LocalDomain = {
  domid: 0, name: 'Domain-0', uuid: '00000000-0000-0000-0000-000000000000', type: 'pv',
  maxMemKb: 1048576, targetMemKb: 1048576, maxVcpus: 1, onlineVcpus: 1,
};

const DOMAINS: DemoDomain[] = [
  {
    domid: 1, name: 'web', uuid: '5a1e0001-7c3b-4d2e-9f10-000000000001', type: 'pv',
    maxMemKb: 1048576, targetMemKb: 524288, maxVcpus: 4, onlineVcpus: 2,
    kernel: '/boot/vmlinuz-guest', cmdline: 'console=hvc0 root=/dev/xvda1',
    disks: ['$IMAGES/web.img,raw,xvda,w', '$IMAGES/web-static.img,raw,xvdb,r'],
    vifs: ['mac=00:16:3e:5a:00:01,bridge=xenbr0'],
  },
  {
    domid: 2, name: 'db', uuid: '5a1e0002-7c3b-4d2e-9f10-000000000002', type: 'pvh',
    maxMemKb: 2097152, targetMemKb: 2097152, maxVcpus: 2, onlineVcpus: 2,
    kernel: '/boot/vmlinuz-guest',
    disks: ['$IMAGES/db.img,raw,xvda,w'],
    vifs: ['mac=00:16:3e:5a:00:02,bridge=xenbr0', 'mac=00:16:3e:5a:00:03,bridge=xenbr1,rate=100Mb/s'],
  },
  {
    domid: 3, name: 'build', uuid: '5a1e0003-7c3b-4d2e-9f10-000000000003', type: 'pvh',
    maxMemKb: 524288, targetMemKb: 524288, maxVcpus: 1, onlineVcpus: 1,
    kernel: '/boot/vmlinuz-guest',
    disks: ['format=raw,vdev=xvda,access=rw,target=$IMAGES/build.img'],
    vifs: ['mac=00:16:3e:5a:00:04,bridge=xenbr0'],
  },
];

/** The template libxl stores at create time, devices left to hotplug. */
function templateOf(domain: LocalDomain): string {
  const pv = domain.type === 'pv';
  return JSON.stringify({
    c_info: { type: domain.type, name: domain.name, domid: 4294967295, uuid: domain.uuid, run_hotplug_scripts: 'True' },
    b_info: {
      max_vcpus: domain.maxVcpus,
      avail_vcpus: Array.from({ length: domain.onlineVcpus }, (_, n) => n),
      max_memkb: domain.maxMemKb,
      target_memkb: domain.targetMemKb,
      video_memkb: 0,
      sched_params: {},
      claim_mode: 'True',
      ...(domain.kernel ? { kernel: domain.kernel } : {}),
      ...(domain.cmdline ? { cmdline: domain.cmdline } : {}),
      [pv ? 'type.pv' : 'type.pvh']: {},
      arch_arm: {},
      arch_x86: { msr_relaxed: 'False' },
    },
    on_reboot: 'restart',
    on_soft_reset: 'soft_reset',
  });
}

/** What xen-init-dom0 stores for dom0 (it writes the file directly, without a create). */
function dom0Template(): string {
  return JSON.stringify({
    c_info: { type: 'pv', name: DOM0.name },
    b_info: { max_memkb: DOM0.maxMemKb, target_memkb: DOM0.targetMemKb, 'type.pv': {} },
  });
}

/** The command line running the demo: each step runs it again, as a user would. */
const CLI = process.argv[1]!;
/** The crash tests' hook (the demo runs from a checkout): it arms the crash point XEN_DOMCONFIG_FAULT names. */
const ARM_FAULT = join(packageRoot(), 'test/harness/arm-fault.mjs');

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** The step running now, killed with the demo if the demo is interrupted. */
let runningStep: ChildProcess | undefined;

function runChild(args: string[], env: NodeJS.ProcessEnv, nodeOptions: string[] = []): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeOptions, CLI, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    runningStep = child;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk; });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
    child.once('error', reject);
    child.once('close', (code, signal) => {
      runningStep = undefined;
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const indent = (text: string, by = '    '): string => text.replace(/^(?=.)/gm, by);

export async function runDemo(context: CommandContext): Promise<ExitCode> {
  const say = (text = ''): void => context.out(`${text}\n`);
  const started = Date.now();
  say('xen-domconfig demo: a small Xen host without Xen');
  say();

  const daemon = await startLocalXenstored();
  const workDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-demo-'));
  // Interrupted (Ctrl-C, `demo | head`): no daemon, step or folder stays behind.
  const forget = undoOnExit(() => {
    runningStep?.kill('SIGKILL');
    daemon.kill();
    rmSync(workDir, { recursive: true, force: true });
  });
  const userdataDir = join(workDir, 'userdata');
  const images = join(workDir, 'images');
  mkdirSync(userdataDir);
  mkdirSync(images);
  // Empty files stand in for disk images: no guest ever reads them.
  const withImages = (spec: string): string => spec.replaceAll('$IMAGES', images);
  for (const name of ['web', 'web-static', 'db', 'build', 'scratch']) writeFileSync(join(images, `${name}.img`), '');
  const xenstore = XenStore.open({ path: daemon.socketPath });
  const backend = await startLocalBackend(xenstore);
  let host: XenHost | undefined;
  try {
    say(`1. Started Debian's real xenstored 4.17 (pid ${daemon.pid}) on ${daemon.socketPath}`);
    say('   under the project\'s fake hypervisor, and a stand-in backend that only moves');
    say('   backend states (1→2 "connected", 5→6) as blkback/netback and the hotplug scripts would.');
    say(`   Templates go to ${userdataDir} (libxl's /var/lib/xen);`);
    say(`   $IMAGES is ${images}, empty files standing in for disk images.`);
    say();

    // The stand-in backend also plays the hotplug scripts' part.
    host = XenHost.open({ xenstorePath: daemon.socketPath, userdataDir, runHotplugScripts: false });
    await layOutDomain(xenstore, DOM0);
    await host.templates.write(0, parseDomainConfig(dom0Template()), { uuid: DOM0.uuid });
    say('2. Created domains as libxl\'s create does: xenstore nodes (name, vm, memory, cpu/*/availability),');
    say('   the template (storeDomainConfiguration), then each device through addDevice:');
    for (const domain of DOMAINS) {
      await layOutDomain(xenstore, domain);
      await host.storeDomainConfiguration(domain.domid, parseDomainConfig(templateOf(domain)));
      for (const spec of domain.disks) await host.addDevice(domain.domid, 'disk', parseDevice('disk', JSON.stringify(parseDiskSpec(withImages(spec)))));
      for (const spec of domain.vifs) await host.addDevice(domain.domid, 'nic', parseDevice('nic', JSON.stringify(parseVifSpec(spec))));
      say(`     ${String(domain.domid).padStart(2)} ${domain.name.padEnd(6)} ${domain.type.padEnd(4)} ${String(domain.targetMemKb / 1024).padStart(5)} MiB  `
        + `disks: ${domain.disks.join('  ')}   vifs: ${domain.vifs.join('  ')}`);
    }
    await host.close();
    host = undefined;
    say();

    const globals = ['--xenstore', daemon.socketPath, '--userdata-dir', userdataDir, '--no-hotplug-scripts'];
    const env = { ...process.env };
    say('   The steps below run the xen-domconfig command itself, each with');
    say(`   --xenstore ${daemon.socketPath} --userdata-dir ${userdataDir} --no-hotplug-scripts`);
    say();

    const attach = ['block-attach', 'web', `${images}/scratch.img,raw,xvdc,w`];
    say(`3. $ xen-domconfig ${attach.join(' ')}`);
    const attached = await runChild([...globals, ...attach], env);
    say(indent(attached.stderr || attached.stdout, '     '));
    if (attached.code !== 0) throw new CliError('ERR_DEMO_STEP', `block-attach failed (exit ${attached.code}): ${attached.stderr.trim()}`);

    const crashPoint = 'add.template-written';
    const crashing = ['network-attach', 'build', 'bridge=xenbr1'];
    say(`4. $ xen-domconfig ${crashing.join(' ')}     (killed by the crash-test hook at ${crashPoint})`);
    const crashed = await runChild([...globals, ...crashing], { ...env, [FAULT_ENV]: crashPoint }, ['--import', ARM_FAULT]);
    if (crashed.signal !== 'SIGKILL') {
      throw new CliError('ERR_DEMO_STEP', `the crashing hotplug did not die as planned (exit ${crashed.code}, signal ${crashed.signal}): ${crashed.stderr.trim()}`);
    }
    say('     killed by SIGKILL at add.template-written: the new nic is in the template, but the');
    say('     xenstore transaction that creates it never committed. Nothing was repaired by hand.');
    say();

    say('5. $ xen-domconfig list -l     (what xl list -l prints; the half-added nic is not a device)');
    const listed = await runChild([...globals, 'list', '-l'], env);
    say(indent(listed.stdout, '     '));
    if (listed.code !== 0) throw new CliError('ERR_DEMO_STEP', `list -l failed (exit ${listed.code}): ${listed.stderr.trim()}`);

    say('6. $ xen-domconfig diff build     (the drift report: template and xenstore disagree)');
    const drift = await runChild([...globals, 'diff', 'build'], env);
    say(indent(drift.stdout, '     '));
    if (drift.code !== 0) throw new CliError('ERR_DEMO_STEP', `diff failed (exit ${drift.code}): ${drift.stderr.trim()}`);

    say('What this shows: libxl-compatible templates and xenstore layout, hotplug through the library');
    say('and the command line, and a crash mid-hotplug leaving a state retrieve handles. What it does');
    say('not: no hypervisor runs, no guest boots, no real backend driver or hotplug script connects.');
  } finally {
    await host?.close();
    await backend.stop();
    await xenstore.close();
    await daemon.stop();
    rmSync(workDir, { recursive: true, force: true });
    forget();
  }
  say(`Cleaned up: xenstored stopped, ${workDir} removed (${((Date.now() - started) / 1000).toFixed(1)} s).`);
  return EXIT.OK;
}
