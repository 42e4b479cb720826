// What libxl_retrieve_domain_configuration overwrites in the template, computed
// from one domain's state: name, uuid, available vCPUs, the two memory limits,
// and the device merge. Pure functions; the reads happen in state.ts and the
// QMP query in qmp.ts.
import { MEMKB_DEFAULT, NIL_UUID, type DomainConfig } from '../config/index.js';
import { mergeDevices, parseUint64, XenstoreValueError, type DeviceArrays, type DeviceMerge } from '../devices/index.js';
import { DomainError } from './errors.js';
import { DM_VERSION_TRADITIONAL, liveView, vcpusToRead, type DomainState } from './state.js';

/** libxl's LIBXL_MAXMEM_CONSTANT: the HVM target fudge. */
export const MAXMEM_CONSTANT = 1024n;

const UUID_IN_VM_PATH = /^\/vm\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/;

/** Where b_info.avail_vcpus comes from. */
export type VcpuSource = { from: 'xenstore' } | { from: 'qemu' };

/** The live values retrieve writes over the template, before the vCPU query of QEMU. */
export interface LiveScalars {
  name: string;
  uuid: string;
  /** From xenstore, or undefined when QEMU must be asked (HVM with qemu-xen). */
  availVcpus: number[] | undefined;
  /** undefined: dom0's node is missing (see dom0Memory), the template's value stands. */
  targetMemkb: bigint | undefined;
  maxMemkb: bigint | undefined;
}

function valueError(domid: number, error: XenstoreValueError): DomainError {
  return new DomainError('EXSVALUE', `domain ${domid}: ${error.message}`, { domid, path: error.path, cause: error });
}

/** c_info.name from /local/domain/<domid>/name; libxl keeps the stale name when the read fails, this does not. */
export function liveName(state: DomainState): string {
  const path = state.paths.name;
  const name = state.values.get(path);
  if (name === undefined) throw new DomainError('EXSVALUE', `domain ${state.domid}: ${path} is missing`, { domid: state.domid, path });
  return name;
}

/** c_info.uuid from /local/domain/<domid>/vm = "/vm/<uuid>" (dom0 has none: the nil uuid, as the hypervisor says). */
export function liveUuid(state: Pick<DomainState, 'domid' | 'paths' | 'values'>): string {
  const path = state.paths.vm;
  const vm = state.values.get(path);
  if (vm === undefined && state.domid === 0) return NIL_UUID;
  const uuid = vm === undefined ? undefined : UUID_IN_VM_PATH.exec(vm.toLowerCase())?.[1];
  if (uuid === undefined) throw valueError(state.domid, new XenstoreValueError(path, 'not /vm/<uuid>', vm));
  return uuid;
}

/** How this domain's vCPUs are read: HVM guests with qemu-xen are asked over QMP. */
export function vcpuSource(template: DomainConfig, state: DomainState): VcpuSource {
  if (template.b_info.type !== 'hvm') return { from: 'xenstore' };
  const path = state.paths.dmVersion;
  const version = state.values.get(path);
  if (version === 'qemu_xen') return { from: 'qemu' };
  // qemu-xen-traditional follows cpu/<i>/availability in xenstore.
  if (version === DM_VERSION_TRADITIONAL) return { from: 'xenstore' };
  // libxl asserts and aborts here.
  throw valueError(state.domid, new XenstoreValueError(path, version === undefined ? 'missing for an HVM guest' : 'not a known device model version', version));
}

/**
 * cpu/<i>/availability for i < max_vcpus (capped as state.ts reads them):
 * exactly "online" sets the bit; a missing node leaves it clear.
 */
export function xenstoreVcpus(state: DomainState, maxVcpus: number): number[] {
  const online: number[] = [];
  const { paths } = state;
  const read = vcpusToRead(maxVcpus);
  for (let i = 0; i < read; i++) {
    if (state.values.get(paths.availability(i)) === 'online') online.push(i);
  }
  return online;
}

/** QEMU's answer cut to the bitmap's size, as libxl_bitmap_set ignores bits past it. */
export function qemuVcpus(indexes: readonly number[], maxVcpus: number): number[] {
  return indexes.filter((index) => index < maxVcpus);
}

/**
 * libxl__get_targetmem_fudge, from the template's b_info before it is
 * overwritten: +1024 KiB for HVM when max_memkb > target_memkb, plus
 * video_memkb unless it is LIBXL_MEMKB_DEFAULT (libxl 4.17 adds the default
 * too, which wraps the sum: dom0's target then reads one KiB low).
 */
export function targetMemFudge(template: DomainConfig): bigint {
  const { b_info: info } = template;
  const hvmFudge = info.type === 'hvm' && info.max_memkb > info.target_memkb ? MAXMEM_CONSTANT : 0n;
  return hvmFudge + (info.video_memkb === MEMKB_DEFAULT ? 0n : info.video_memkb);
}

/**
 * A memory node in KiB. xen-init-dom0 writes no memory nodes for dom0; libxl
 * fills them in from the hypervisor when first asked. Reading no hypervisor
 * data, this leaves dom0's missing node unknown (undefined) instead.
 */
export function dom0Memory(state: Pick<DomainState, 'domid' | 'values'>, path: string): bigint | undefined {
  const value = state.values.get(path);
  if (value === undefined && state.domid === 0) return undefined;
  return parseUint64(path, value);
}

export function liveScalars(template: DomainConfig, state: DomainState): LiveScalars {
  const { paths } = state;
  try {
    const target = dom0Memory(state, paths.target);
    const staticMax = dom0Memory(state, paths.staticMax);
    const source = vcpuSource(template, state);
    return {
      name: liveName(state),
      uuid: liveUuid(state),
      availVcpus: source.from === 'xenstore' ? xenstoreVcpus(state, template.b_info.max_vcpus) : undefined,
      targetMemkb: target === undefined ? undefined : target + targetMemFudge(template),
      maxMemkb: staticMax,
    };
  } catch (error) {
    if (error instanceof XenstoreValueError) throw valueError(state.domid, error);
    throw error;
  }
}

export function liveDevices(template: DomainConfig, state: DomainState): DeviceMerge {
  return mergeDevices(template as unknown as DeviceArrays, liveView(state));
}

/**
 * The template with every refreshed field overwritten, in place (retrieve owns
 * the freshly parsed template); sched_params stay as stored (hypervisor data),
 * and so do dom0's memory limits while xenstore has none.
 */
export function applyLive(template: DomainConfig, scalars: LiveScalars & { availVcpus: number[] }, devices: DeviceMerge): DomainConfig {
  const config = template;
  config.c_info.name = scalars.name;
  config.c_info.uuid = scalars.uuid;
  config.b_info.avail_vcpus = scalars.availVcpus;
  if (scalars.targetMemkb !== undefined) config.b_info.target_memkb = scalars.targetMemkb;
  if (scalars.maxMemkb !== undefined) config.b_info.max_memkb = scalars.maxMemkb;
  Object.assign(config, devices.arrays);
  return config;
}
