// Lays out a domain's xenstore nodes the way libxl's create does
// (libxl__domain_make, libxl__build_post, libxl__domain_rename), for the demo
// and local runs on a private xenstored. No hypervisor is involved: the
// project's fake hypervisor makes every domid "exist" for xenstored.
import type { XenStore, XenStorePermission } from '../xenstore/index.js';

export interface LocalDomain {
  domid: number;
  name: string;
  uuid: string;
  type: 'pv' | 'pvh' | 'hvm';
  /** memory/static-max, KiB. */
  maxMemKb: number;
  /** memory/target, KiB (libxl writes target_memkb minus the video and fudge amounts). */
  targetMemKb: number;
  /** cpu/<n> nodes for n < maxVcpus; the first onlineVcpus are "online". */
  maxVcpus: number;
  onlineVcpus: number;
  /** PV image details for /vm/<uuid>/image. */
  kernel?: string;
  cmdline?: string;
}

/** Writes the domain's nodes in one transaction, with libxl's permissions. */
export async function layOutDomain(xenstore: XenStore, domain: LocalDomain): Promise<void> {
  const { domid, uuid } = domain;
  const home = `/local/domain/${domid}`;
  const vm = `/vm/${uuid}`;
  // roperm: dom0 owns, the guest may read; rwperm: the guest owns.
  const roperm: XenStorePermission[] = [{ domid: 0, read: false, write: false }, { domid, read: true, write: false }];
  const rwperm: XenStorePermission[] = [{ domid, read: false, write: false }];
  const toolstackOnly: XenStorePermission[] = [{ domid: 0, read: false, write: false }];

  const nodes: [string, string, XenStorePermission[]?][] = [
    [home, '', roperm],
    [`${home}/vm`, vm],
    [`${home}/name`, domain.name],
    [`${home}/domid`, String(domid)],
    [`${home}/cpu`, '', roperm],
    ...Array.from({ length: domain.maxVcpus }, (_, n): [string, string] =>
      [`${home}/cpu/${n}/availability`, n < domain.onlineVcpus ? 'online' : 'offline']),
    [`${home}/memory`, '', roperm],
    [`${home}/memory/static-max`, String(domain.maxMemKb)],
    [`${home}/memory/target`, String(domain.targetMemKb)],
    [`${home}/memory/videoram`, '0'],
    [`${home}/device`, '', roperm],
    [`${home}/control`, '', roperm],
    ...['shutdown', 'feature-poweroff', 'feature-reboot', 'feature-suspend', 'sysrq'].map(
      (name): [string, string, XenStorePermission[]] => [`${home}/control/${name}`, '', rwperm]),
    [`${home}/control/platform-feature-multiprocessor-suspend`, '1'],
    [`${home}/control/platform-feature-xs_reset_watches`, '1'],
    ...['data', 'drivers', 'feature', 'attr', 'error'].map(
      (name): [string, string, XenStorePermission[]] => [`${home}/${name}`, '', rwperm]),
    [vm, '', roperm],
    [`${vm}/uuid`, uuid],
    [`${vm}/name`, domain.name],
    [`${vm}/start_time`, (Date.now() / 1000).toFixed(2)],
    ...(domain.type === 'pv'
      ? [
          [`${vm}/image/ostype`, 'linux'],
          ...(domain.kernel ? [[`${vm}/image/kernel`, domain.kernel]] : []),
          ...(domain.cmdline ? [[`${vm}/image/cmdline`, domain.cmdline]] : []),
        ] as [string, string][]
      : []),
    [`/libxl/${domid}`, '', toolstackOnly],
    [`/libxl/${domid}/device`, ''],
    [`/libxl/${domid}/type`, domain.type],
    [`/libxl/${domid}/dm-version`, 'qemu_xen'],
  ];

  // xen-init-dom0 writes no vm node for dom0, and libxl reads its uuid as nil.
  const laidOut = domid === 0 ? nodes.filter(([path]) => path !== `${home}/vm` && !path.startsWith(vm)) : nodes;
  await xenstore.transaction(async (tx) => {
    for (const [path, value, perms] of laidOut) {
      await tx.write(path, value);
      if (perms) await tx.setPermissions(path, perms);
    }
  });
}
