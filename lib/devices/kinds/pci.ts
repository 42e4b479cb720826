// The PCI passthrough device (libxl_device_pci, array `pcidevs`, identity
// the BDF): libxl__device_pci_from_xs_be reads dom0's own pci backend dir.
// Retrieve only: assigning a device needs the hypervisor.
import { schema } from '../../config/index.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
import { strtoul, xenbusState, type ListedDevice, type ListingReader } from '../listing.js';
import type { DeviceProblem, LiveDevice, LiveList, LiveView } from '../live.js';
import { formatPciAddress, parsePciAddress, parseSmallUint } from '../parse.js';
import { reasonOf } from './common.js';

const MAX_PCI_DEVICES = 256;

const PCI_BACKENDS = '/local/domain/0/backend/pci';

function pciBackend(domid: number): string {
  return `${PCI_BACKENDS}/${domid}/0`;
}

function pciCount(view: Omit<LiveView, 'trees'>): { count: number } | { problem: DeviceProblem } | undefined {
  const path = `${pciBackend(view.domid)}/num_devs`;
  const value = view.values.get(path);
  if (value === undefined) return undefined;
  try {
    return { count: parseSmallUint(path, value, MAX_PCI_DEVICES) };
  } catch (error) {
    return { problem: { kind: 'pci', path, reason: reasonOf(error) } };
  }
}

function listPci(view: LiveView): LiveList {
  const counted = pciCount(view);
  if (!counted) return { devices: [], problems: [] };
  if ('problem' in counted) return { devices: [], problems: [counted.problem] };
  const devices: LiveDevice[] = [];
  const problems: DeviceProblem[] = [];
  for (let i = 0; i < counted.count; i++) {
    const path = `${pciBackend(view.domid)}/dev-${i}`;
    try {
      devices.push({ kind: 'pci', key: formatPciAddress(parsePciAddress(path, view.values.get(path))), path });
    } catch (error) {
      problems.push({ kind: 'pci', path, reason: reasonOf(error) });
    }
  }
  return { devices, problems };
}

function pciKey(entry: DeviceEntry): string | undefined {
  const { domain, bus, dev, func } = entry;
  const fields = [domain, bus, dev, func];
  if (!fields.every((field) => typeof field === 'number' && Number.isInteger(field) && field >= 0)) return undefined;
  return formatPciAddress({ domain: domain as number, bus: bus as number, dev: dev as number, func: func as number });
}

/**
 * libxl_device_pci_list for xl pci-list: every device of dom0's pci backend
 * dir, with the virtual slot (vdevfn-<i>) libxl__device_pci_from_xs_be reads.
 * The paths are those of the one pci bus device that carries them all.
 */
async function listedPci(domid: number, reader: ListingReader): Promise<{ devices: ListedDevice[]; problems: DeviceProblem[] }> {
  const backendPath = pciBackend(domid);
  const backend = await reader.readTree(backendPath);
  const values = new Map((backend?.children ?? []).map((child) => [`${backendPath}/${child.name}`, child.value]));
  const live = listPci({ domid, libxlDevices: undefined, values, trees: new Map() });
  const frontendPath = `/local/domain/${domid}/device/pci/0`;
  const [frontendState] = await reader.readMany([`${frontendPath}/state`]);
  const devices = live.devices.map((device): ListedDevice => {
    const index = Number(device.path.slice(device.path.lastIndexOf('-') + 1));
    const vdevfn = values.get(`${backendPath}/vdevfn-${index}`);
    return {
      kind: 'pci',
      identity: device.key,
      devid: index,
      backendDomid: 0,
      libxlPath: `/libxl/${domid}/device/pci/0`,
      frontendPath,
      backendPath,
      backendState: xenbusState(values.get(`${backendPath}/state`)),
      details: { ...(vdevfn === undefined ? {} : { vdevfn }) },
      guestReported: { state: xenbusState(frontendState), values: { state: frontendState } },
    };
  });
  return { devices, problems: live.problems };
}

/** xl_pci.c pcilist's line: the virtual slot.function, then the host BDF. */
function pciLine(device: ListedDevice): string {
  const vdevfn = device.details?.vdevfn === undefined ? 0 : Number(BigInt.asUintN(32, strtoul(device.details.vdevfn as string, 16)));
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  return `${hex((vdevfn >> 3) & 0x1f, 2)}.${hex(vdevfn & 0x7, 1)} ${device.identity}\n`;
}

export const pci: DeviceType = {
  name: 'pci',
  schema: schema.device_pci,
  array: 'pcidevs',
  identity: 'BDF',
  keyOf: pciKey,
  xenstoreKinds: [],
  probe: (domid) => [`${pciBackend(domid)}/num_devs`],
  probeDomains: PCI_BACKENDS,
  followUp: (view) => {
    const counted = pciCount(view);
    if (!counted || !('count' in counted)) return {};
    return { values: Array.from({ length: counted.count }, (_, i) => `${pciBackend(view.domid)}/dev-${i}`) };
  },
  listLive: listPci,

  list: {
    noun: 'pci',
    description: 'list PCI devices passed through, as xl pci-list prints them',
    oneDomain: true,
    devices: listedPci,
    // libxl's list is NULL without devices, and xl prints no title then.
    format: (devices) => (devices.length === 0 ? '' : `Vdev Device\n${devices.map(pciLine).join('')}`),
  },
};
