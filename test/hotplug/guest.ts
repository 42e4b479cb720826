// A guest domain on the local xenstored, as libxl's create leaves it: its
// xenstore nodes and its template, for hotplug tests.
import { randomUUID } from 'node:crypto';
import { defaultBuildInfo, defaultDomainConfig, type DomainConfig } from '../../lib/config/index.js';
import { DEVICE_TYPES, type DeviceEntry, type DeviceType } from '../../lib/devices/index.js';
import type { XenHost } from '../../lib/host.js';
import { layOutDomain } from '../../lib/localxen/domains.js';
import type { TemplateStore } from '../../lib/userdata/index.js';
import type { XenStore } from '../../lib/xenstore/index.js';

export function guestConfig(name: string, uuid: string, type: 'pv' | 'pvh' | 'hvm' = 'pv'): DomainConfig {
  const config = defaultDomainConfig();
  config.c_info.type = type;
  config.c_info.name = name;
  config.c_info.uuid = uuid;
  config.b_info = defaultBuildInfo(type);
  config.b_info.max_vcpus = 1;
  config.b_info.max_memkb = 262144n;
  config.b_info.target_memkb = 262144n;
  return config;
}

/** Lays out domain `domid` and stores its template; returns its uuid. */
export async function createGuest(xenstore: XenStore, templates: TemplateStore, domid: number, type: 'pv' | 'pvh' | 'hvm' = 'pv'): Promise<string> {
  const uuid = randomUUID();
  await layOutDomain(xenstore, {
    domid, name: `guest${domid}`, uuid, type, maxMemKb: 262144, targetMemKb: 262144, maxVcpus: 1, onlineVcpus: 1,
  });
  await templates.write(domid, guestConfig(`guest${domid}`, uuid, type), { uuid });
  return uuid;
}

/** Every device listed under /libxl/<domid>/device, as "<kind>/<devid>". */
export async function xenstoreDevices(xenstore: XenStore, domid: number): Promise<string[]> {
  const tree = await xenstore.readTree(`/libxl/${domid}/device`);
  return (tree?.children ?? []).flatMap((kind) => kind.children.map((device) => `${kind.name}/${device.name}`));
}

export interface InvariantReport {
  /** Devices in /libxl/<domid>/device. */
  devices: string[];
  /** Template entries of the hotplugged kinds. */
  entries: number;
}

/** The usb devices of the stand-in sysfs the workers attach (bus 1, addresses 2 to 7: children/worker.ts). */
export const WORKER_USB_DEVICES = [2, 3, 4, 5, 6, 7].map((address) => ({ busid: `1-${address}`, bus: 1, address, interfaces: { '1.0': 'usb-storage' } }));

/** Removes every device the workers left: usb devices first (a controller keeps them), then the rest by devid. */
export async function removeAll(host: XenHost, domid: number): Promise<void> {
  const usb = await host.xenstore.readTree(`/local/domain/0/backend/vusb/${domid}`);
  for (const ctrl of usb?.children ?? []) {
    for (const port of ctrl.children.find((child) => child.name === 'port')?.children ?? []) {
      if (port.value !== '') await host.removeDevice(domid, 'usbdev', `${ctrl.name}:${port.name}`);
    }
  }
  for (const device of await xenstoreDevices(host.xenstore, domid)) {
    const [dir, devid] = device.split('/');
    await host.removeDevice(domid, kindOfDir(dir!), Number(devid), { timeoutMs: 2000 });
  }
}

/** "add <kind>" and "remove <kind>" lines of workers' output, counted per kind. */
export function operationsPerKind(outputs: readonly string[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of outputs.flatMap((output) => output.split('\n'))) {
    const match = /^(add|remove) ([a-z0-9]+)/.exec(line);
    if (match) counts[`${match[1]} ${match[2]}`] = (counts[`${match[1]} ${match[2]}`] ?? 0) + 1;
  }
  return counts;
}

/** The kind whose devices a dir under /libxl/<domid>/device holds (the hotplugged one where two share it). */
export function kindOfDir(dir: string): DeviceType {
  const type = DEVICE_TYPES.find((candidate) => candidate.add && candidate.xenstoreKinds.includes(dir))
    ?? DEVICE_TYPES.find((candidate) => candidate.xenstoreKinds.includes(dir));
  if (!type) throw new Error(`no device kind lists /libxl/<domid>/device/${dir}`);
  return type;
}

/**
 * The invariant after any crash: the template parses, every device xenstore
 * lists has a template entry (checked directly, for every hotplugged kind,
 * and through retrieve), and no two template entries share an identity.
 */
export async function checkInvariant(host: XenHost, domid: number): Promise<InvariantReport> {
  const template = await host.templates.read(domid);
  const devices = await xenstoreDevices(host.xenstore, domid);
  // dom0's PV usb backends hold the ports usb devices are at.
  const usbPorts = `/local/domain/0/backend/vusb/${domid}`;
  const trees = new Map([[usbPorts, await host.xenstore.readTree(usbPorts)]]);
  const view = { domid, libxlDevices: await host.xenstore.readTree(`/libxl/${domid}/device`), values: new Map(), trees };
  let entries = 0;
  for (const type of DEVICE_TYPES.filter((candidate) => candidate.add || candidate.attach)) {
    const stored = (template as unknown as Record<string, DeviceEntry[]>)[type.array]!;
    const keys = stored.map((entry) => type.keyOf(entry)).filter((key) => key !== undefined);
    for (const live of type.listLive(view).devices) {
      if (!keys.includes(live.key)) throw new Error(`invariant broken: ${live.path} of domain ${domid} has no template entry`);
    }
    if (new Set(keys).size !== keys.length) throw new Error(`duplicate ${type.identity}s of ${type.name} in the template: ${keys.join(' ')}`);
    entries += stored.length;
  }
  const { devices: report } = await host.retrieveDomainConfiguration(domid);
  if (report.onlyInXenstore.length > 0 || report.problems.length > 0) {
    const shown = JSON.stringify(report, (_key, value: unknown) => (typeof value === 'bigint' ? String(value) : value));
    throw new Error(`retrieve of domain ${domid}: ${shown}`);
  }
  return { devices, entries };
}
