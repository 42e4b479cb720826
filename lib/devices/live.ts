// What xenstore says exists: the trusted live view of a domain's devices, and
// the per-entry problems found while reading it. Existence comes only from
// toolstack-owned nodes (/libxl/<domid>/device/…, and dom0's own backend dirs
// for pci and pv usb ports), never from frontend or driver-domain dirs.

import type { XenStoreNode } from '../xenstore/index.js';

export type { XenStoreNode };

/** One device that exists according to xenstore. */
export interface LiveDevice {
  /** Table name of the kind: 'disk', 'nic', … */
  kind: string;
  /** Identity, comparable with the template entry's key (vdev, devid, BDF, ctrl:port). */
  key: string;
  /** The xenstore node that proves the device exists. */
  path: string;
  /** Fields the merge uses; only disk has any (removable media without media = ejected). */
  ejected?: boolean;
}

/** A device node that could not be read; that one entry is skipped, the rest still merge. */
export interface DeviceProblem {
  kind: string;
  path: string;
  reason: string;
}

export interface LiveList {
  devices: LiveDevice[];
  problems: DeviceProblem[];
}

/**
 * Everything read from xenstore for one domain's devices, in a few batch calls:
 * the /libxl/<domid>/device subtree, values probed with the domain's scalars,
 * and the follow-up reads some kinds ask for.
 */
export interface LiveView {
  domid: number;
  /** /libxl/<domid>/device, or undefined when absent. */
  libxlDevices: XenStoreNode | undefined;
  /** Values by absolute path (probe and follow-up value reads). */
  values: ReadonlyMap<string, string | undefined>;
  /** Subtrees by absolute path (follow-up tree reads). */
  trees: ReadonlyMap<string, XenStoreNode | undefined>;
}

/** Further reads a kind needs once the first batch is in. */
export interface FollowUpReads {
  values?: string[];
  trees?: string[];
}

/** Upper bound on entries examined per kind, so a flooded directory cannot stall a listing. */
export const MAX_DEVICES_PER_KIND = 1024;

export function childNamed(node: XenStoreNode | undefined, name: string): XenStoreNode | undefined {
  return node?.children.find((child) => child.name === name);
}

/** The node's direct leaf values, by key. */
export function leafValues(node: XenStoreNode): Map<string, string> {
  const values = new Map<string, string>();
  for (const child of node.children) values.set(child.name, child.value);
  return values;
}
