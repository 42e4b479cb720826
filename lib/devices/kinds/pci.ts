// The PCI passthrough device (libxl_device_pci, array `pcidevs`, identity
// the BDF): libxl__device_pci_from_xs_be reads dom0's own pci backend dir.
// Retrieve only: assigning a device needs the hypervisor.
import { schema } from '../../config/index.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
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
};
