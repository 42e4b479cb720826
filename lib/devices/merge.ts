// The device merge of libxl_retrieve_domain_configuration, kind by kind in
// table order: a template entry whose identity xenstore lists is kept (and
// merged), one xenstore does not list is dropped from the result, and a live
// device without a template entry is reported — never silently ignored.
import type { DeviceProblem, LiveDevice, LiveView } from './live.js';
import type { DeviceArrayName, DeviceEntry, DeviceType } from './kind.js';
import { DEVICE_TYPES } from './kinds/index.js';

/** A template entry xenstore does not list (libxl: "present in JSON but not in xenstore"). */
export interface TemplateOnlyDevice {
  kind: string;
  /** Identity, or undefined when the entry has none. */
  key: string | undefined;
  /** Index in the template's array. */
  index: number;
  entry: DeviceEntry;
}

/** A device on both sides whose merged entry differs from the stored one (an ejected cdrom). */
export interface MergedDevice {
  kind: string;
  key: string;
  stored: DeviceEntry;
  merged: DeviceEntry;
}

export interface DeviceMerge {
  /** The merged arrays, for every kind that takes part in the merge. */
  arrays: Partial<Record<DeviceArrayName, DeviceEntry[]>>;
  onlyInTemplate: TemplateOnlyDevice[];
  onlyInXenstore: LiveDevice[];
  /** Entries the merge changed. */
  changed: MergedDevice[];
  problems: DeviceProblem[];
}

export type DeviceArrays = Partial<Record<DeviceArrayName, readonly DeviceEntry[] | undefined>>;

export function mergeDevices(template: DeviceArrays, view: LiveView, types: readonly DeviceType[] = DEVICE_TYPES): DeviceMerge {
  const arrays: DeviceMerge['arrays'] = {};
  const result: DeviceMerge = { arrays, onlyInTemplate: [], onlyInXenstore: [], changed: [], problems: [] };
  for (const type of types) {
    const entries = template[type.array] ?? [];
    const live = type.listLive(view, entries);
    if (entries.length === 0 && live.devices.length === 0 && live.problems.length === 0) {
      arrays[type.array] = []; // most kinds, most domains: nothing on either side
      continue;
    }
    result.problems.push(...live.problems);
    const matched = new Set<LiveDevice>();
    const merged: DeviceEntry[] = [];
    entries.forEach((entry, index) => {
      const key = type.keyOf(entry);
      // First match on a linear scan, as libxl: duplicate template keys all match.
      const device = key === undefined ? undefined : live.devices.find((candidate) => candidate.key === key);
      if (device) {
        matched.add(device);
        const combined = type.merge ? type.merge(device, entry) : entry;
        if (combined !== entry) result.changed.push({ kind: type.name, key: device.key, stored: entry, merged: combined });
        merged.push(combined);
      } else if (key === undefined && type.entriesOptional) {
        merged.push(entry); // made at create time: libxl returns it as stored
      } else {
        result.onlyInTemplate.push({ kind: type.name, key, index, entry });
      }
    });
    arrays[type.array] = merged;
    if (!type.entriesOptional) result.onlyInXenstore.push(...live.devices.filter((device) => !matched.has(device)));
  }
  return result;
}

/**
 * The /libxl/<domid>/device dirs the template's entries live in (vbd for a
 * disk, vif for a nic…): worth listing before the device dir itself is. Only
 * a head start: the dirs that listing names are read all the same.
 */
export function templateDeviceKinds(template: DeviceArrays, types: readonly DeviceType[] = DEVICE_TYPES): string[] {
  const kinds = new Set<string>();
  for (const type of types) {
    const entries = template[type.array] ?? [];
    if (entries.length === 0) continue;
    if (!type.add) {
      type.xenstoreKinds.forEach((kind) => kinds.add(kind));
      continue;
    }
    for (const entry of entries) {
      try {
        kinds.add(type.add.frontendKind(entry as Record<string, unknown>));
      } catch {
        // An entry the add recipe cannot place (an odd stored backend): its dir is listed once named.
      }
    }
  }
  return [...kinds];
}

/** Paths to read with the domain's scalars, for every kind. */
export function deviceProbes(domid: number, types: readonly DeviceType[] = DEVICE_TYPES): string[] {
  return types.flatMap((type) => type.probe?.(domid) ?? []);
}

/** The follow-up reads every kind asks for, de-duplicated. */
export function deviceFollowUps(view: Omit<LiveView, 'trees'>, types: readonly DeviceType[] = DEVICE_TYPES): { values: string[]; trees: string[] } {
  const values = new Set<string>();
  const trees = new Set<string>();
  for (const type of types) {
    const reads = type.followUp?.(view);
    reads?.values?.forEach((path) => values.add(path));
    reads?.trees?.forEach((path) => trees.add(path));
  }
  return { values: [...values], trees: [...trees] };
}
