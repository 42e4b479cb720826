// libxl_retrieve_domain_configuration: the template read under the
// domain-userdata lock, refreshed from xenstore (and QEMU for HVM vCPUs),
// with the device merge. Beyond libxl, the result says which devices exist
// only in xenstore and which device nodes could not be read.
import type { DomainConfig } from '../config/index.js';
import type { DeviceMerge, DeviceProblem, LiveDevice, TemplateOnlyDevice } from '../devices/index.js';
import type { TemplateStore } from '../userdata/index.js';
import type { XenStore } from '../xenstore/index.js';
import { DomainError } from './errors.js';
import { queryQemuCpus } from './qmp.js';
import { applyLive, liveDevices, liveScalars, liveUuid, qemuVcpus, type LiveScalars } from './refresh.js';
import { domainPaths, listDeviceNodes, readDomainState, readScalars, type DomainState, type StateReader } from './state.js';

export interface RetrieveOptions {
  /** Read all xenstore state inside one transaction, for a consistent snapshot. */
  snapshot?: boolean;
  /** How long to wait for the domain-userdata lock (default: the template store's). */
  lockTimeoutMs?: number;
  signal?: AbortSignal;
}

export interface DeviceReport {
  /** Template entries xenstore does not list: dropped from the config (libxl does the same). */
  onlyInTemplate: TemplateOnlyDevice[];
  /** Devices xenstore lists without a template entry: not in the config (libxl ignores them silently). */
  onlyInXenstore: LiveDevice[];
  /** Device nodes that could not be read; each concerns that one entry only. */
  problems: DeviceProblem[];
}

export interface RetrievedDomain {
  domid: number;
  config: DomainConfig;
  devices: DeviceReport;
}

export interface RetrieveContext {
  xenstore: XenStore;
  /** Bulk reads outside transactions (the XenStore itself, or a pipelined connection). */
  reader: StateReader;
  templates: TemplateStore;
  qmpSocketPath: (domid: number) => string;
  qmpTimeoutMs: number;
}

/** Everything retrieve and diff need: the stored template and the live values. */
export interface DomainReading {
  domid: number;
  template: DomainConfig;
  scalars: LiveScalars & { availVcpus: number[] };
  devices: DeviceMerge;
}

export async function readDomain(context: RetrieveContext, domid: number, options: RetrieveOptions = {}): Promise<DomainReading> {
  const { xenstore, templates } = context;
  const first = await readScalars(context.reader, domid);
  const paths = domainPaths(domid);
  if (first.get(paths.vm) === undefined && first.get(paths.name) === undefined) {
    throw new DomainError('ENODOMAIN', `domain ${domid} does not exist`, { domid });
  }
  const uuid = liveUuid({ domid, values: first });

  const read = async (): Promise<[DomainConfig, DomainState]> => {
    if (options.snapshot) {
      const template = await templates.read(domid, { uuid });
      const state = await xenstore.transaction(
        (tx) => readDomainState(tx, domid, { maxVcpus: template.b_info.max_vcpus }),
        options.signal ? { signal: options.signal } : {},
      );
      return [template, state];
    }
    const [template, listing] = await Promise.all([templates.read(domid, { uuid }), listDeviceNodes(context.reader, domid)]);
    return [template, await readDomainState(context.reader, domid, { scalars: first, listing, maxVcpus: template.b_info.max_vcpus })];
  };

  // Dom0 has no vm node: its uuid is the nil one, as the hypervisor reports.
  const release = await templates.lock(domid, {
    uuid,
    ...(options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let template: DomainConfig;
  let state: DomainState;
  try {
    [template, state] = await read();
  } finally {
    await release();
  }
  if (state.values.get(paths.name) === undefined) await checkStillThere(context.reader, domid);

  const scalars = liveScalars(template, state);
  const devices = liveDevices(template, state);
  const availVcpus = scalars.availVcpus ?? qemuVcpus(
    await queryQemuCpus(context.qmpSocketPath(domid), domid, {
      timeoutMs: context.qmpTimeoutMs,
      ...(options.signal ? { signal: options.signal } : {}),
    }),
    template.b_info.max_vcpus,
  );
  return { domid, template, scalars: { ...scalars, availVcpus }, devices };
}

/** A domain whose name went missing while it was read: gone (ENODOMAIN) if its vm node went too. */
async function checkStillThere(reader: StateReader, domid: number): Promise<void> {
  const paths = domainPaths(domid);
  const [vm, name] = await reader.readMany([paths.vm, paths.name]);
  if (vm === undefined && name === undefined) {
    throw new DomainError('ENODOMAIN', `domain ${domid} vanished while its configuration was read`, { domid });
  }
}

export async function retrieveDomain(context: RetrieveContext, domid: number, options: RetrieveOptions = {}): Promise<RetrievedDomain> {
  const reading = await readDomain(context, domid, options);
  return {
    domid,
    config: applyLive(reading.template, reading.scalars, reading.devices),
    devices: {
      onlyInTemplate: reading.devices.onlyInTemplate,
      onlyInXenstore: reading.devices.onlyInXenstore,
      problems: reading.devices.problems,
    },
  };
}
