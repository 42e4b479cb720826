// Synthetic running domains in xenstore, laid out like libxl writes them (the
// keys `list -l` reads), for the wire benchmarks and the C floor programs.
import type { XenStoreWireClient as WireClient } from '../lib/xenstore/wire-client.js';

export interface SyntheticDomainShape {
  vcpus?: number;
  disks?: number;
  nics?: number;
}

/** Node → value pairs of one synthetic PV domain. */
export function syntheticDomainEntries(domid: number, shape: SyntheticDomainShape = {}): [string, string][] {
  const { vcpus = 2, disks = 1, nics = 1 } = shape;
  const uuid = `00000000-0000-4000-8000-${domid.toString(16).padStart(12, '0')}`;
  const dom = `/local/domain/${domid}`;
  const entries: [string, string][] = [
    [`${dom}/name`, `guest-${domid}`],
    [`${dom}/vm`, `/vm/${uuid}`],
    [`${dom}/domid`, String(domid)],
    [`${dom}/memory/target`, '524288'],
    [`${dom}/memory/static-max`, '524288'],
    [`/vm/${uuid}/name`, `guest-${domid}`],
  ];
  for (let cpu = 0; cpu < vcpus; cpu++) entries.push([`${dom}/cpu/${cpu}/availability`, 'online']);
  for (let disk = 0; disk < disks; disk++) {
    const devid = 51712 + disk * 16;
    const libxl = `/libxl/${domid}/device/vbd/${devid}`;
    entries.push(
      [`${libxl}/frontend`, `${dom}/device/vbd/${devid}`],
      [`${libxl}/backend`, `/local/domain/0/backend/vbd/${domid}/${devid}`],
      [`${libxl}/params`, `/var/lib/xen/images/guest-${domid}-${disk}.img`],
      [`${libxl}/script`, '/etc/xen/scripts/block'],
      [`${libxl}/frontend-id`, String(domid)],
      [`${libxl}/online`, '1'],
      [`${libxl}/removable`, '0'],
      [`${libxl}/bootable`, '1'],
      [`${libxl}/state`, '1'],
      [`${libxl}/dev`, `xvd${String.fromCharCode(97 + disk)}`],
      [`${libxl}/type`, 'phy'],
      [`${libxl}/mode`, 'w'],
      [`${libxl}/device-type`, 'disk'],
    );
  }
  for (let nic = 0; nic < nics; nic++) {
    const libxl = `/libxl/${domid}/device/vif/${nic}`;
    entries.push(
      [`${libxl}/frontend`, `${dom}/device/vif/${nic}`],
      [`${libxl}/backend`, `/local/domain/0/backend/vif/${domid}/${nic}`],
      [`${libxl}/frontend-id`, String(domid)],
      [`${libxl}/online`, '1'],
      [`${libxl}/state`, '1'],
      [`${libxl}/script`, '/etc/xen/scripts/vif-bridge'],
      [`${libxl}/mac`, `00:16:3e:${hex2(domid >> 8)}:${hex2(domid)}:${hex2(nic)}`],
      [`${libxl}/bridge`, 'xenbr0'],
      [`${libxl}/handle`, String(nic)],
      [`${libxl}/type`, 'vif'],
    );
  }
  const console = `/libxl/${domid}/device/console/0`;
  entries.push(
    [`${console}/frontend`, `${dom}/console`],
    [`${console}/backend`, `/local/domain/0/backend/console/${domid}/0`],
    [`${console}/frontend-id`, String(domid)],
    [`${console}/online`, '1'],
    [`${console}/state`, '1'],
    [`${console}/protocol`, 'vt100'],
  );
  return entries;
}

function hex2(value: number): string {
  return (value & 0xff).toString(16).padStart(2, '0');
}

/** Writes `entries`, pipelined in slices so the queue stays small. */
export async function writeEntries(connection: WireClient, entries: readonly [string, string][]): Promise<void> {
  const slice = 4096;
  for (let i = 0; i < entries.length; i += slice) {
    await Promise.all(entries.slice(i, i + slice).map(([path, value]) => connection.write(path, value)));
  }
}

export async function populateSyntheticDomains(connection: WireClient, domids: readonly number[],
  shape: SyntheticDomainShape = {}): Promise<void> {
  await writeEntries(connection, domids.flatMap((domid) => syntheticDomainEntries(domid, shape)));
}
