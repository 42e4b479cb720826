// libxl_retrieve_domain_configuration: the template read under the
// domain-userdata lock, refreshed from xenstore (and QEMU for HVM vCPUs),
// with the device merge. Beyond libxl, the result says which devices exist
// only in xenstore and which device nodes could not be read.
import { NIL_UUID, type DomainConfig } from '../config/index.js';
import {
  DEVICE_TYPES, type DeviceArrays, type DeviceMerge, type DeviceProblem, type DeviceType, type LiveDevice, type TemplateOnlyDevice,
} from '../devices/index.js';
import type { TemplateStore } from '../userdata/index.js';
import type { XenStore } from '../xenstore/index.js';
import { DomainError } from './errors.js';
import { queryQemuCpus } from './qmp.js';
import { applyLive, liveDevices, liveScalars, liveUuid, qemuVcpus, type LiveScalars } from './refresh.js';
import { domainPaths, readDomainState, type DomainState, type StateReader } from './state.js';

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

/** What a list knows of a domain before reading it. */
export interface ReadHints {
  /** The device kinds whose probes to read (default all): a list leaves out those it knows this domain lacks. */
  probed?: readonly DeviceType[];
  /** The uuid of the domain's only template file: spares the read of vm before the lock. */
  uuid?: string;
}

/** The uuid hint did not name the domain's vm node: read again without it. */
class StaleUuidHint extends Error {}

export async function readDomain(context: RetrieveContext, domid: number, options: RetrieveOptions = {}, hints: ReadHints = {}): Promise<DomainReading> {
  try {
    return await readDomainOnce(context, domid, options, hints);
  } catch (error) {
    if (!(error instanceof StaleUuidHint)) throw error;
    return readDomainOnce(context, domid, options, { ...hints, uuid: undefined });
  }
}

async function readDomainOnce(context: RetrieveContext, domid: number, options: RetrieveOptions, hints: ReadHints): Promise<DomainReading> {
  const { xenstore, templates } = context;
  const paths = domainPaths(domid);
  const probed = hints.probed ?? DEVICE_TYPES;
  const hinted = hints.uuid !== undefined;
  // The uuid names the lock and the template; all else is read under the lock,
  // where the vm node read with the state confirms a hint.
  let vm: string | undefined;
  if (hinted) {
    vm = domid === 0 && hints.uuid === NIL_UUID ? undefined : `/vm/${hints.uuid}`;
  } else {
    [vm] = await context.reader.readMany([paths.vm]);
    if (vm === undefined) await checkExists(context.reader, domid);
  }
  const uuid = liveUuid({ domid, paths, values: new Map([[paths.vm, vm]]) });

  const read = async (): Promise<[DomainConfig, DomainState]> => {
    // The template is a local file: read first, it says which device dirs to list at once.
    const template = await readTemplate(context, domid, uuid, vm, hinted);
    const stateOf = (ops: StateReader) => readDomainState(ops, domid, stateOptions(template, probed), paths);
    const state = options.snapshot
      ? await xenstore.transaction(stateOf, options.signal ? { signal: options.signal } : {})
      : await stateOf(context.reader);
    return [template, state];
  };

  // libxl checks that the domain survived the wait for the lock; here the
  // vm node read with the state under the lock does (checkDomain: false).
  const release = await templates.lock(domid, {
    uuid,
    checkDomain: false,
    ...(options.lockTimeoutMs === undefined ? {} : { timeoutMs: options.lockTimeoutMs }),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  // The domain is the one whose uuid names the lock and the template, and still exists.
  const sameDomain = (state: DomainState) =>
    state.values.get(paths.vm) === vm && (vm !== undefined || state.values.get(paths.name) !== undefined);
  let reading: [DomainConfig, DomainState] | undefined;
  try {
    reading = await read();
  } finally {
    await release({ keepLockFile: reading !== undefined && sameDomain(reading[1]) });
  }
  const [template, state] = reading;
  if (!sameDomain(state)) {
    if (hinted && state.values.get(paths.vm) !== vm) throw new StaleUuidHint();
    throw new DomainError('ENODOMAIN', `domain ${domid} (${uuid}) vanished while its configuration was read`, { domid });
  }

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

function stateOptions(template: DomainConfig, probed: readonly DeviceType[]) {
  return {
    maxVcpus: template.b_info.max_vcpus,
    hvm: template.b_info.type === 'hvm',
    probed,
    template: template as unknown as DeviceArrays,
  };
}

/** A domain without a vm node is dom0-like if it has a name; without either it does not exist. */
async function checkExists(reader: StateReader, domid: number): Promise<void> {
  const [name] = await reader.readMany([domainPaths(domid).name]);
  if (name === undefined) throw new DomainError('ENODOMAIN', `domain ${domid} does not exist`, { domid });
}

/** The template; a missing one of a domain destroyed meanwhile is ENODOMAIN (destroy removes it). */
async function readTemplate(context: RetrieveContext, domid: number, uuid: string, vm: string | undefined, hinted: boolean): Promise<DomainConfig> {
  try {
    return await context.templates.read(domid, { uuid });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOTEMPLATE') throw error;
    if (hinted) throw new StaleUuidHint();
    const [vmNow] = await context.reader.readMany([domainPaths(domid).vm]);
    if (vmNow !== vm) throw new DomainError('ENODOMAIN', `domain ${domid} (${uuid}) no longer exists`, { domid, cause: error });
    throw error;
  }
}

export async function retrieveDomain(context: RetrieveContext, domid: number, options: RetrieveOptions = {}, hints: ReadHints = {}): Promise<RetrievedDomain> {
  const reading = await readDomain(context, domid, options, hints);
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
