// A guest domain on the local xenstored, as libxl's create leaves it: its
// xenstore nodes and its template, for hotplug tests.
import { randomUUID } from 'node:crypto';
import { defaultBuildInfo, defaultDomainConfig, type DomainConfig } from '../../lib/config/index.js';
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
