// Populates PV domains on a private xenstored as `xl create` leaves them:
// xenstore nodes from the library's own layout code (lib/localxen's
// layOutDomain, and the device table's add recipes through planDeviceAdd /
// writeDeviceAdd with libxl's defaults), and the template through the
// create-time save (XenHost.storeDomainConfiguration). The xenstore operations are recorded once per domain and
// replayed in order, many domains at a time, instead of one transaction and
// one backend handshake per device as hotplug does.
import { cloneDomainConfig, parseDevice, parseDomainConfig, type DomainConfig } from '../lib/config/index.js';
import { parseDiskSpec } from '../lib/devices/kinds/disk.js';
import { parseVifSpec } from '../lib/devices/kinds/nic.js';
import { deviceType, planDeviceAdd, writeDeviceAdd, type DeviceEntry, type XenStoreWriteOps, type XsPermission } from '../lib/devices/index.js';
import { mapConcurrently } from '../lib/domain/list.js';
import { layOutDomain, type LocalDomain } from '../lib/localxen/domains.js';
import type { XenHost } from '../lib/host.js';
import type { XenStore } from '../lib/xenstore/index.js';
import { DEFAULT_SCRIPT_DIR } from '../lib/xen.js';

/** The shape every benchmark domain has (and the xl config of the cross-check). */
export const BENCH_SHAPE = {
  memoryMiB: 512,
  maxVcpus: 4,
  onlineVcpus: 2,
  kernel: '/usr/lib/fakexen/mini-pv.elf',
  cmdline: 'console=hvc0',
  disks: (domid: number) => [
    'format=raw,vdev=xvda,access=w,backendtype=phy,target=/dev/vg/disk0',
    `format=raw,vdev=xvdb,access=r,backendtype=phy,target=/dev/vg/disk${1 + (domid % 3)}`,
  ],
  vifs: (domid: number) => [`mac=${benchMac(domid)},bridge=xenbr0`],
};

export const DOM0: LocalDomain = {
  domid: 0, name: 'Domain-0', uuid: '00000000-0000-0000-0000-000000000000', type: 'pv',
  maxMemKb: 1048576, targetMemKb: 1048576, maxVcpus: 1, onlineVcpus: 1,
};

export function benchUuid(domid: number): string {
  return `b3c40000-0000-4000-8000-${domid.toString(16).padStart(12, '0')}`;
}

export function benchName(domid: number): string {
  return `bench-${domid}`;
}

function benchMac(domid: number): string {
  const byte = (value: number) => (value & 0xff).toString(16).padStart(2, '0');
  return `00:16:3e:${byte(domid >> 16)}:${byte(domid >> 8)}:${byte(domid)}`;
}

export function benchDomain(domid: number): LocalDomain {
  const memKb = BENCH_SHAPE.memoryMiB * 1024;
  return {
    domid, name: benchName(domid), uuid: benchUuid(domid), type: 'pv',
    maxMemKb: memKb, targetMemKb: memKb, maxVcpus: BENCH_SHAPE.maxVcpus, onlineVcpus: BENCH_SHAPE.onlineVcpus,
    kernel: BENCH_SHAPE.kernel, cmdline: BENCH_SHAPE.cmdline,
  };
}

/** The xl config file that creates the same domain (for the cross-check against real xl). */
export function xlConfig(domid: number): string {
  const quote = (items: string[]) => `[${items.map((item) => `'${item}'`).join(', ')}]`;
  return [
    `name = "${benchName(domid)}"`,
    'type = "pv"',
    `uuid = "${benchUuid(domid)}"`,
    `memory = ${BENCH_SHAPE.memoryMiB}`,
    `maxmem = ${BENCH_SHAPE.memoryMiB}`,
    `vcpus = ${BENCH_SHAPE.onlineVcpus}`,
    `maxvcpus = ${BENCH_SHAPE.maxVcpus}`,
    `kernel = "${BENCH_SHAPE.kernel}"`,
    `extra = "${BENCH_SHAPE.cmdline}"`,
    `disk = ${quote(BENCH_SHAPE.disks(domid))}`,
    `vif = ${quote(BENCH_SHAPE.vifs(domid))}`,
    '',
  ].join('\n');
}

/** One recorded xenstore operation. */
export type RecordedOp =
  | { op: 'write'; path: string; value: string }
  | { op: 'mkdir'; path: string }
  | { op: 'rm'; path: string }
  | { op: 'perms'; path: string; perms: XsPermission[] };

/**
 * Stands in for a XenStore (and its transactions) on a fresh store: reads see
 * nothing, writes are recorded in order.
 */
class Recorder implements XenStoreWriteOps {
  readonly ops: RecordedOp[] = [];
  async read(): Promise<string | undefined> { return undefined; }
  async list(): Promise<string[] | undefined> { return undefined; }
  async write(path: string, value: string): Promise<void> { this.ops.push({ op: 'write', path, value }); }
  async mkdir(path: string): Promise<void> { this.ops.push({ op: 'mkdir', path }); }
  async rm(path: string): Promise<void> { this.ops.push({ op: 'rm', path }); }
  async setPermissions(path: string, perms: XsPermission[]): Promise<void> { this.ops.push({ op: 'perms', path, perms }); }
  async transaction<T>(fn: (tx: XenStoreWriteOps) => Promise<T>): Promise<T> { return fn(this); }
}

/** The template libxl stores at create time: the domain's settings and its devices. */
function baseTemplate(domain: LocalDomain): DomainConfig {
  return parseDomainConfig(JSON.stringify({
    c_info: { type: domain.type, name: domain.name, domid: 4294967295, uuid: domain.uuid, run_hotplug_scripts: 'True' },
    b_info: {
      max_vcpus: domain.maxVcpus,
      avail_vcpus: Array.from({ length: domain.onlineVcpus }, (_, n) => n),
      max_memkb: domain.maxMemKb,
      target_memkb: domain.targetMemKb,
      video_memkb: 0,
      shadow_memkb: 6144,
      sched_params: {},
      claim_mode: 'True',
      kernel: domain.kernel,
      cmdline: domain.cmdline,
      'type.pv': {},
      arch_arm: {},
      arch_x86: { msr_relaxed: 'False' },
    },
    on_reboot: 'restart',
    on_soft_reset: 'soft_reset',
  }));
}

function dom0Template(): DomainConfig {
  return parseDomainConfig(JSON.stringify({
    c_info: { type: 'pv', name: DOM0.name, uuid: DOM0.uuid },
    b_info: { max_memkb: DOM0.maxMemKb, target_memkb: DOM0.targetMemKb, 'type.pv': {} },
  }));
}

/**
 * The templates' max_vcpus as the C floors take them (-c for the guests, -0
 * for dom0): the vCPUs whose availability a list reads.
 */
export function floorVcpuArgs(): string[] {
  return ['-c', String(BENCH_SHAPE.maxVcpus), '-0', String(dom0Template().b_info.max_vcpus)];
}

/** The xenstore operations and the template of one domain, from the library's code. */
export async function planDomain(domain: LocalDomain, devices: { disks: string[]; vifs: string[] }): Promise<{ ops: RecordedOp[]; template: DomainConfig }> {
  const recorder = new Recorder();
  // layOutDomain uses only transaction/write/setPermissions, which the recorder offers.
  await layOutDomain(recorder as unknown as XenStore, domain);
  const template = baseTemplate(domain);
  // Disks' and nics' defaults read nothing from xenstore.
  const context = { domid: domain.domid, domainType: domain.type, hotplug: false, scriptDir: DEFAULT_SCRIPT_DIR, sysfsRoot: '/sys', read: async () => undefined };
  const addContext = { domid: domain.domid, domainType: domain.type, scriptDir: context.scriptDir, nativeProtocol: 'x86_64-abi' };
  const entries: [kind: 'disk' | 'nic', entry: DeviceEntry][] = [
    ...devices.disks.map((spec): ['disk', DeviceEntry] => ['disk', parseDevice('disk', JSON.stringify(parseDiskSpec(spec))) as unknown as DeviceEntry]),
    ...devices.vifs.map((spec, devid): ['nic', DeviceEntry] => ['nic', { ...parseDevice('nic', JSON.stringify(parseVifSpec(spec))) as unknown as DeviceEntry, devid }]),
  ];
  for (const [kind, saved] of entries) {
    const type = deviceType(kind);
    const recipe = type.add!;
    const full = cloneDomainConfig(saved);
    await recipe.setDefault(full, context);
    recipe.updateConfig(saved, full);
    const plan = planDeviceAdd(recipe, full, addContext);
    await writeDeviceAdd(recorder, plan);
    // What blkback/netback and the hotplug script answer (lib/localxen's backend stand-in does the same).
    await recorder.write(`${plan.backendPath}/hotplug-status`, 'connected');
    await recorder.write(`${plan.backendPath}/state`, '2');
    (template as unknown as Record<string, DeviceEntry[]>)[type.array]!.push(saved);
  }
  return { ops: recorder.ops, template };
}

/** Replays recorded operations in order (rm of a missing node is fine). */
export async function replay(xenstore: XenStore, ops: readonly RecordedOp[]): Promise<void> {
  for (const op of ops) {
    switch (op.op) {
      case 'write': await xenstore.write(op.path, op.value); break;
      case 'mkdir': await xenstore.mkdir(op.path); break;
      case 'perms': await xenstore.setPermissions(op.path, op.perms); break;
      case 'rm':
        await xenstore.rm(op.path).catch((error: { code?: string }) => { if (error.code !== 'ENOENT') throw error; });
        break;
    }
  }
}

/** Dom0 as xen-init-dom0 leaves it: nodes, Pool-0 (libxl reads the pool's name for the scheduler) and template. */
export async function populateDom0(host: XenHost): Promise<void> {
  await layOutDomain(host.xenstore, DOM0);
  // xen-init-dom0 leaves dom0's home readable by dom0 alone (libxl's roperm is for guests).
  await host.xenstore.setPermissions('/local/domain/0', [{ domid: 0, read: false, write: false }]);
  await host.xenstore.write('/local/pool/0/name', 'Pool-0');
  await host.storeDomainConfiguration(0, dom0Template());
}

/** Creates domains `domids` (xenstore nodes, then the create-time save), `concurrency` at a time. */
export async function populateDomains(host: XenHost, domids: readonly number[], concurrency = 16): Promise<void> {
  const created = mapConcurrently(domids, concurrency, async (domid) => {
    const domain = benchDomain(domid);
    const { ops, template } = await planDomain(domain, { disks: BENCH_SHAPE.disks(domid), vifs: BENCH_SHAPE.vifs(domid) });
    await replay(host.xenstore, ops);
    await host.storeDomainConfiguration(domid, template);
  });
  for await (const _domain of created); // each is written when it comes
}
