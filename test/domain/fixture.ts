// Builds a domain the way libxl leaves it after `xl create`: its xenstore
// nodes (lib/localxen's layout), its devices through the device table's add
// writes, and its template in a private userdata dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultBuildInfo, defaultDomainConfig, type DomainBuildInfo, type DomainConfig,
} from '../../lib/config/index.js';
import { deviceType, planDeviceAdd, writeDeviceAdd, type DeviceEntry } from '../../lib/devices/index.js';
import { layOutDomain } from '../../lib/localxen/domains.js';
import { TemplateStore } from '../../lib/userdata/index.js';
import type { XenStore } from '../../lib/xenstore/index.js';

export interface FixtureDevice {
  kind: 'disk' | 'nic' | 'vtpm';
  /** The entry as hotplug writes it (defaults applied). */
  entry: DeviceEntry;
}

export interface FixtureDomain {
  domid: number;
  name: string;
  type: 'pv' | 'pvh' | 'hvm';
  maxVcpus?: number;
  onlineVcpus?: number;
  /** KiB in xenstore. */
  maxMemKb?: number;
  targetMemKb?: number;
  /** The stored template; default: a config matching the layout. */
  template?: (config: DomainConfig) => void;
  /** Devices written to xenstore as libxl's hotplug does. */
  devices?: FixtureDevice[];
}

export function uuidOf(domid: number): string {
  return `${String(domid).padStart(8, '0')}-1111-2222-3333-444444444444`;
}

export function tempUserdataDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-userdata-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The config libxl would have stored for this domain. */
export function templateFor(domain: FixtureDomain): DomainConfig {
  const config = defaultDomainConfig();
  config.c_info.type = domain.type;
  config.c_info.name = domain.name;
  config.c_info.uuid = uuidOf(domain.domid);
  const info: DomainBuildInfo = defaultBuildInfo(domain.type);
  info.max_vcpus = domain.maxVcpus ?? 2;
  info.avail_vcpus = Array.from({ length: domain.onlineVcpus ?? 1 }, (_, i) => i);
  info.max_memkb = BigInt(domain.maxMemKb ?? 524288);
  info.target_memkb = BigInt(domain.targetMemKb ?? 262144);
  info.video_memkb = 0n;
  config.b_info = info;
  domain.template?.(config);
  return config;
}

export async function createDomain(store: XenStore, userdataDir: string, domain: FixtureDomain): Promise<DomainConfig> {
  await layOutDomain(store, {
    domid: domain.domid,
    name: domain.name,
    uuid: uuidOf(domain.domid),
    type: domain.type,
    maxMemKb: domain.maxMemKb ?? 524288,
    targetMemKb: domain.targetMemKb ?? 262144,
    maxVcpus: domain.maxVcpus ?? 2,
    onlineVcpus: domain.onlineVcpus ?? 1,
  });
  for (const { kind, entry } of domain.devices ?? []) {
    const plan = planDeviceAdd(deviceType(kind).add!, entry, { domid: domain.domid, domainType: domain.type, nativeProtocol: 'x86_64-abi' });
    await store.transaction((tx) => writeDeviceAdd(tx, plan));
  }
  const config = templateFor(domain);
  await new TemplateStore({ xenstore: store, dir: userdataDir }).write(domain.domid, config, { uuid: uuidOf(domain.domid) });
  return config;
}

export const disk = (vdev: string, path: string, extra: DeviceEntry = {}): DeviceEntry => ({
  vdev, pdev_path: path, backend: 'phy', format: 'raw', readwrite: 1, backend_domid: 0, ...extra,
});
export const nic = (devid: number, extra: DeviceEntry = {}): DeviceEntry => ({
  devid, mac: `00:16:3e:00:00:${devid.toString(16).padStart(2, '0')}`, bridge: 'xenbr0', nictype: 'vif', script: 'vif-bridge', mtu: 1500, backend_domid: 0, ...extra,
});

import { defaultDevice, type DeviceKind } from '../../lib/config/index.js';

/** A template entry: the kind's defaults plus the given fields. */
export function entryOf<K extends DeviceKind>(kind: K, fields: Record<string, unknown>) {
  return { ...defaultDevice(kind), ...fields } as ReturnType<typeof defaultDevice<K>>;
}

/**
 * The nodes libxl's create writes that layOutDomain leaves out
 * (libxl__domain_make, libxl__build_post, libxl__device_console_add; see
 * ../shared/reference/libxl-sync.md §6), with libxl's permissions:
 * - device/suspend/event-channel, guest-owned (rwperm), under a device/suspend
 *   dir dom0 creates on the way (it inherits device/'s perms);
 * - with `xendSuspendEvtchnCompat` (c_info.xend_suspend_evtchn_compat), device/
 *   itself is rwperm, i.e. owned by the guest: every dir dom0 creates under it
 *   later (device/vbd, device/vif, …) inherits that owner. Call this before the
 *   devices are added, as libxl does;
 * - store/port and store/ring-ref (inherit the home dir's roperm);
 * - the PV console 0: frontend /local/domain/<d>/console with the read-only
 *   frontend perms (owner the backend, the guest may only read), its dom0
 *   backend and its /libxl record.
 */
export async function completeLibxlLayout(store: XenStore, domid: number, options: { xendSuspendEvtchnCompat?: boolean } = {}): Promise<void> {
  const home = `/local/domain/${domid}`;
  const rwperm = [{ domid, read: false, write: false }];
  const roFrontend = [{ domid: 0, read: false, write: false }, { domid, read: true, write: false }];
  const console = { fe: `${home}/console`, be: `/local/domain/0/backend/console/${domid}/0`, libxl: `/libxl/${domid}/device/console/0` };
  const back: [string, string][] = [['frontend-id', String(domid)], ['online', '1'], ['state', '1'], ['protocol', 'vt100']];
  const readOnlyFront: [string, string][] = [['limit', '1048576'], ['type', 'xenconsoled'], ['output', 'pty'], ['tty', ''], ['port', '2'], ['ring-ref', '1044476']];
  await store.transaction(async (tx) => {
    if (options.xendSuspendEvtchnCompat) await tx.setPermissions(`${home}/device`, rwperm);
    await tx.write(`${home}/device/suspend/event-channel`, '');
    await tx.setPermissions(`${home}/device/suspend/event-channel`, rwperm);
    await tx.write(`${home}/store/port`, '1');
    await tx.write(`${home}/store/ring-ref`, '1044477');
    await tx.write(`${console.libxl}/frontend`, console.fe);
    await tx.write(`${console.libxl}/backend`, console.be);
    await tx.mkdir(console.fe);
    await tx.setPermissions(console.fe, roFrontend);
    await tx.write(`${console.fe}/backend`, console.be);
    for (const [key, value] of readOnlyFront) {
      await tx.write(`${console.fe}/${key}`, value);
      await tx.setPermissions(`${console.fe}/${key}`, roFrontend);
    }
    await tx.mkdir(console.be);
    await tx.setPermissions(console.be, roFrontend);
    await tx.write(`${console.be}/frontend`, console.fe);
    for (const [key, value] of back) {
      await tx.write(`${console.be}/${key}`, value);
      await tx.write(`${console.libxl}/${key}`, value);
    }
  });
}
