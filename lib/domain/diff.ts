// Drift between a domain's stored template and its live state: every field
// retrieve refreshes, with both values, and the devices on one side only.
import type { MergedDevice } from '../devices/index.js';
import type { DeviceReport } from './retrieve.js';
import { readDomain, type RetrieveContext, type RetrieveOptions } from './retrieve.js';

export type RefreshedField =
  | 'c_info.name'
  | 'c_info.uuid'
  | 'b_info.avail_vcpus'
  | 'b_info.target_memkb'
  | 'b_info.max_memkb';

export interface ScalarDrift<T = unknown> {
  field: RefreshedField;
  stored: T;
  live: T;
  differs: boolean;
}

export interface DomainDrift extends DeviceReport {
  domid: number;
  scalars: ScalarDrift[];
  /** Devices on both sides that the merge changed (an ejected cdrom). */
  merged: MergedDevice[];
  /** True when any scalar differs or any device is on one side only or changed by the merge. */
  drifted: boolean;
}

function same(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i]);
  return a === b;
}

export async function diffDomain(context: RetrieveContext, domid: number, options: RetrieveOptions = {}): Promise<DomainDrift> {
  const { template, scalars, devices } = await readDomain(context, domid, options);
  // A live value xenstore does not hold (dom0's memory before it is filled in) is no drift.
  const field = <T>(name: RefreshedField, stored: T, live: T | undefined): ScalarDrift<T | undefined> =>
    ({ field: name, stored, live, differs: live !== undefined && !same(stored, live) });
  const scalarDrift: ScalarDrift[] = [
    field('c_info.name', template.c_info.name, scalars.name),
    field('c_info.uuid', template.c_info.uuid, scalars.uuid),
    field('b_info.avail_vcpus', template.b_info.avail_vcpus, scalars.availVcpus),
    field('b_info.target_memkb', template.b_info.target_memkb, scalars.targetMemkb),
    field('b_info.max_memkb', template.b_info.max_memkb, scalars.maxMemkb),
  ];
  const merged = devices.changed;
  const drifted = scalarDrift.some((s) => s.differs) || merged.length > 0
    || devices.onlyInTemplate.length > 0 || devices.onlyInXenstore.length > 0;
  return {
    domid,
    scalars: scalarDrift,
    merged,
    onlyInTemplate: devices.onlyInTemplate,
    onlyInXenstore: devices.onlyInXenstore,
    problems: devices.problems,
    drifted,
  };
}
