// The virtual keyboard/pointer (libxl_device_vkb, array `vkbs`, identity devid):
// libxl_vkb.c's setdefault and libxl__set_xenstore_vkb, and xl's
// vkb-attach/-detach with parse_vkb_config's keys. libxl adds a vkb without
// touching the template (libxl__device_add) and its retrieve does not merge
// vkbs; here the entry is kept like any other hotplugged device's (see
// entriesOptional).
import { schema } from '../../config/index.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
import { asString, inFieldOrder, parseKeyValueSpec, SpecError, unsignedDecimal, type SpecKey } from '../spec.js';
import { cString, reportedInt, row } from '../listing.js';
import type { KeyValues } from '../writes.js';
import { backendDomidOf, detachByDevid, devidIdentity, devidOf, flag, genericBackend, genericFrontend, integer, text } from './common.js';

const { device_vkb } = schema;
const BACKEND_TYPES = ['qemu', 'linux'];

// xl reads these with strtoul(…, 0); as for the vif keys, only plain decimals are taken here.
const number = (field: string): SpecKey => ({ field, parse: unsignedDecimal(0xffff_ffff) });
const bool = (field: string): SpecKey => ({ field, parse: (value, fail) => unsignedDecimal(0xffff_ffff)(value, fail) !== 0 });

// parse_vkb_config's keys (xl 4.17): xenstore field names → libxl_device_vkb fields.
const VKB_KEYS: Record<string, SpecKey> = {
  backend: { field: 'backend_domname', parse: asString },
  'backend-type': {
    field: 'backend_type',
    parse: (value, fail) => (BACKEND_TYPES.includes(value.toLowerCase()) ? value.toLowerCase() : fail(`unknown backend-type '${value}' (qemu or linux)`)),
  },
  'unique-id': { field: 'unique_id', parse: asString },
  'feature-disable-keyboard': bool('feature_disable_keyboard'),
  'feature-disable-pointer': bool('feature_disable_pointer'),
  'feature-abs-pointer': bool('feature_abs_pointer'),
  'feature-raw-pointer': bool('feature_raw_pointer'),
  'feature-multi-touch': bool('feature_multi_touch'),
  width: number('width'),
  height: number('height'),
  'multi-touch-width': number('multi_touch_width'),
  'multi-touch-height': number('multi_touch_height'),
  'multi-touch-num-contacts': number('multi_touch_num_contacts'),
};

/**
 * `xl vkb-attach` arguments, one KEY=VALUE each: xl insists on backend-type,
 * and any multi-touch size turns multi-touch on, which then needs one.
 */
export function parseVkbSpec(words: string | readonly string[]) {
  const vkb = parseKeyValueSpec('vkb', device_vkb, words, { keys: VKB_KEYS, commas: false });
  const fail = (reason: string): never => { throw new SpecError('vkb', typeof words === 'string' ? words : words.join(' '), reason); };
  if (vkb.backend_type === undefined) fail('backend-type should be set');
  const sized = Boolean(vkb.multi_touch_width || vkb.multi_touch_height || vkb.multi_touch_num_contacts);
  if (vkb.feature_multi_touch && !sized) fail('multi-touch-width, multi-touch-height, multi-touch-num-contacts should be set for multi touch');
  return sized ? inFieldOrder(device_vkb, new Map([...Object.entries(vkb), ['feature_multi_touch', true]])) : vkb;
}

/** libxl__set_xenstore_vkb: each feature and size only when set, in libxl's order. */
function vkbBackend(entry: DeviceEntry): KeyValues {
  const values: Array<readonly [string, string]> = [];
  const uniqueId = text(entry, 'unique_id');
  if (uniqueId !== undefined) values.push(['unique-id', uniqueId]);
  for (const [key, field] of [
    ['feature-disable-keyboard', 'feature_disable_keyboard'],
    ['feature-disable-pointer', 'feature_disable_pointer'],
    ['feature-abs-pointer', 'feature_abs_pointer'],
    ['feature-raw-pointer', 'feature_raw_pointer'],
  ] as const) {
    if (flag(entry, field)) values.push([key, '1']);
  }
  if (flag(entry, 'feature_multi_touch')) {
    values.push(
      ['feature-multi-touch', '1'],
      ['multi-touch-width', String(integer(entry, 'multi_touch_width', 0))],
      ['multi-touch-height', String(integer(entry, 'multi_touch_height', 0))],
      ['multi-touch-num-contacts', String(integer(entry, 'multi_touch_num_contacts', 0))],
    );
  }
  const width = integer(entry, 'width', 0);
  if (width) values.push(['width', String(width)]);
  const height = integer(entry, 'height', 0);
  if (height) values.push(['height', String(height)]);
  return values;
}

export const vkb: DeviceType = {
  name: 'vkb',
  schema: device_vkb,
  array: 'vkbs',
  ...devidIdentity('vkb', 'vkbd'),
  entriesOptional: true,
  reportedFrontendKeys: ['event-channel', 'page-gref'],

  add: {
    nextDevid: true,
    // libxl__device_add: no wait for the backend, no hotplug script.
    waitsForBackend: false,
    async setDefault(entry) {
      if (entry.backend_type === 'unknown' || entry.backend_type === undefined) entry.backend_type = 'qemu';
    },
    updateConfig(saved, full) {
      saved.devid = full.devid;
    },
    frontendKind: () => 'vkbd',
    backendKind: (entry) => (entry.backend_type === 'linux' ? 'vinput' : 'vkbd'),
    devid: devidOf,
    backendDomid: backendDomidOf,
    backend: (entry, context) => [...genericBackend(context), ...vkbBackend(entry)],
    frontend: (entry) => genericFrontend(entry),
    readOnlyFrontend: () => [],
    // backend-type qemu: QEMU's vkbd; linux: the vinput backend driver.
    qemuBackend: (backendKind) => backendKind === 'vkbd',
  },

  cli: {
    noun: 'vkb',
    specName: 'vkb',
    attachUsage: '<vkb-spec-component(s)...>',
    attachDescription: 'hotplug a virtual keyboard; keys as xl vkb-attach takes them, e.g. backend-type=linux unique-id=K0',
    parseSpec: parseVkbSpec,
    attached: (_entry, devid) => `vkb ${devid}`,
    detachUsage: '<devid>',
    detachDescription: 'unplug a virtual keyboard by devid',
    forceOption: false,
    detachTarget: detachByDevid,
    // xl: libxl_device_vkb_remove (waits for the backend, then forces).
    detachForce: false,
  },

  // xl_vkb.c main_vkblist over libxl_device_vkb_getinfo; unique-id from the backend dir and
  // the backend type from the backend's kind (libxl__vkb_from_xenstore).
  list: {
    noun: 'vkb',
    description: 'list virtual keyboards, as xl vkb-list prints them',
    header: row(['Idx', -3], ['BE', -2], ['handle', -6], ['state', -5], ['evt-ch', -6], ['ref', 6], ['ID', -10], ['BE-type', -10], ['BE-path', -30]),
    async details(device, reader) {
      const [uniqueId] = await reader.readMany([`${device.backendPath}/unique-id`]);
      const backendType = device.backendPath.split('/')[5] === 'vinput' ? 'linux' : 'qemu';
      return { details: { backendType, ...(uniqueId === undefined ? {} : { uniqueId }) } };
    },
    format: (devices) => devices.map((d) => row(
      [d.devid, -3], [d.backendDomid, -2], [d.devid, 6], [reportedInt(d, 'state'), 5], [reportedInt(d, 'event-channel'), 6],
      [reportedInt(d, 'page-gref'), 6], [cString(d.details?.uniqueId as string | undefined), -10], [String(d.details?.backendType), -10], [d.backendPath, -30],
    )).join(''),
  },
};
