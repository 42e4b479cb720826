// libxl-json: libxl_domain_config of Xen 4.17 as typed objects, read and written exactly as
// libxl reads and writes it.
import { argumentError } from '../errors.js';
import { defaultsOf, readStruct } from './read.js';
import { deepClone, deepEquals, wrongTypedKeys } from './unknown-keys.js';
import { writeStruct, writeStructKeepingVerbatim } from './write.js';
import { ConfigError } from './errors.js';
import { JsonNumber, JsonObject, type JsonValue } from './json.js';
import { inputText, parseJson } from './json-parse.js';
import { writeArray, writeObject } from './json-write.js';
import * as schema from './schema.js';
import { deviceSchemas, type DeviceKind } from './schema.js';
import type {
  DeviceChannel, DeviceDisk, DeviceDtdev, DeviceNic, DeviceOf, DeviceP9, DevicePci, DevicePvcallsif,
  DeviceRdm, DeviceUsbctrl, DeviceUsbdev, DeviceVdispl, DeviceVfb, DeviceVkb, DeviceVsnd, DeviceVtpm,
  DomainBuildInfo, DomainConfig, DomainCreateInfo, ValueOf,
} from './types.js';

export { ConfigError } from './errors.js';
export { UNKNOWN_KEYS, setUnknownKeys, unknownKeysOf, type UnknownKey } from './unknown-keys.js';
export { JsonNumber, JsonObject, type JsonValue } from './json.js';
export { schema };
export { deviceArrays, deviceSchemas, fieldNames, MEMKB_DEFAULT, type DeviceArrayName, type DeviceKind, type StructType } from './schema.js';
export type * from './types.js';
export {
  NIL_UUID, ZERO_MAC, bitmapFromIndices, bitmapFromMask, bitmapHas, bitmapRange, bitmapToMask,
  diskDevNumber, diskDevNumberOf, diskVdevName, formatMac, isUuid, macToBytes, parseMac, parseUuid,
  type DiskDevNumber, type Mac, type Uuid,
} from './values.js';

/** Something readStruct can fill: the JSON root must be an object. */
function rootObject(text: string | Uint8Array, what: string): JsonObject {
  const root = parseJson(inputText(text));
  if (!(root instanceof JsonObject)) throw new ConfigError('', `a JSON object (${what})`);
  return root;
}

/**
 * Reads libxl-json text (a userdata template, `xl -N create` output, one `config` of
 * `xl list -l`) into a fully defaulted DomainConfig. A trailing NUL (as libxl stores) and
 * anything after it are ignored. Throws ConfigError.
 */
export function parseDomainConfig(text: string | Uint8Array): DomainConfig {
  return readStruct(schema.domain_config, rootObject(text, 'libxl_domain_config')) as DomainConfig;
}

/** libxl_domain_config_to_json's exact text (with yajl's final newline, without the NUL). */
export function formatDomainConfig(config: DomainConfig): string {
  return `${writeStruct(schema.domain_config, config as never, 0)}\n`;
}

/**
 * formatDomainConfig for rewriting a stored template (hotplug): a known key of the wrong
 * JSON type that the template held is written back verbatim, and a value written over one
 * is a ConfigError naming it instead of a silent loss.
 */
export function formatTemplateRewrite(config: DomainConfig): string {
  return `${writeStructKeepingVerbatim(schema.domain_config, config as never, 0)}\n`;
}

/**
 * Throws ConfigError, with its JSON path, for the first known key of the wrong JSON type
 * in a parsed config (parse keeps such keys verbatim, as libxl reads them as absent):
 * what is stored anew must say what it means.
 */
export function checkKeyTypes(config: DomainConfig): void {
  const [wrong] = wrongTypedKeys(config);
  if (wrong) throw new ConfigError(wrong.jsonPath, wrong.expected, wrong.found);
}

export interface DomainListEntry {
  domid: number;
  config: DomainConfig;
}

/** The exact standard output of `xl list -l` for these domains (yajl's newline plus puts'). */
export function formatDomainList(list: readonly DomainListEntry[]): string {
  return joinDomainList(list.map(formatDomainListEntry));
}

/** One domain's item of formatDomainList, for joinDomainList: a list can be formatted as it is read. */
export function formatDomainListEntry({ domid, config }: DomainListEntry): string {
  if (!Number.isInteger(domid) || domid < 0 || domid > 0xffffffff) {
    throw new ConfigError('domid', 'a domain id in 0..4294967295', `found ${String(domid)}`);
  }
  return writeObject([`"domid": ${domid}`, `"config": ${writeStruct(schema.domain_config, config as never, 2)}`], 1);
}

/** formatDomainList's text of the items formatDomainListEntry gave. */
export function joinDomainList(items: string[]): string {
  return `${writeArray(items, 0)}\n\n`;
}

/** Reads `xl list -l` output: [{"domid": N, "config": {...}}, ...]. */
export function parseDomainList(text: string | Uint8Array): DomainListEntry[] {
  const root = parseJson(inputText(text));
  if (!Array.isArray(root)) throw new ConfigError('', 'a JSON array (xl list -l output)');
  return root.map((item, k) => {
    const at = (key: string): JsonValue | undefined =>
      item instanceof JsonObject ? item.values[item.keys.indexOf(key)] : undefined;
    const domid = at('domid');
    const config = at('config');
    if (!(domid instanceof JsonNumber) || domid.form !== 'integer') throw new ConfigError(`[${k}].domid`, 'an integer');
    const id = Number(domid.integer());
    if (id < 0 || id > 0xffffffff) throw new ConfigError(`[${k}].domid`, 'a domain id in 0..4294967295', `found ${id}`);
    if (!(config instanceof JsonObject)) throw new ConfigError(`[${k}].config`, 'an object');
    try {
      return { domid: id, config: readStruct(schema.domain_config, config) as DomainConfig };
    } catch (e) {
      if (e instanceof ConfigError) {
        throw new ConfigError(`[${k}].config${e.jsonPath ? `.${e.jsonPath}` : ''}`, e.expected, e.detail);
      }
      throw e;
    }
  });
}

/** Reads one struct of the schema table from its libxl-json text, defaulted as libxl's *_init. */
export function parseStruct<T extends schema.StructType>(t: T, text: string | Uint8Array): ValueOf<T> {
  return readStruct(t, rootObject(text, t.name)) as ValueOf<T>;
}

/** libxl's <struct>_to_json text of one struct of the schema table. */
export function formatStruct<T extends schema.StructType>(t: T, value: ValueOf<T>): string {
  return `${writeStruct(t, value as never, 0)}\n`;
}

/**
 * A struct from the fields a caller gave, over libxl's *_init values: nested
 * structs and the structs in arrays are completed the same way, so a partial
 * device (e.g. a vsnd whose pcms name only `name`) is a whole one.
 */
export function completeStruct<T extends schema.StructType>(t: T, partial: Readonly<Record<string, unknown>>): ValueOf<T> {
  const complete = (type: schema.SchemaType, value: unknown): unknown => {
    if (type.kind === 'struct' && isPlainObject(value)) return completeStruct(type, value);
    if (type.kind === 'array' && type.of.kind === 'struct' && Array.isArray(value)) return value.map((item) => complete(type.of, item));
    return value;
  };
  const out = defaultsOf(t) as Record<string, unknown>;
  for (const [key, value] of Object.entries(partial)) {
    const field = t.fields.find((f) => f[0] === key);
    const union = t.fields.find((f) => f[1].kind === 'union' && f[0] === 'u')?.[1] as schema.UnionType | undefined;
    if (field && field[1].kind !== 'union') out[key] = complete(field[1], value);
    else if (key === 'u' && union && isPlainObject(value)) {
      const arm = union.arms[String(partial[union.keyvar])];
      out[key] = arm ? completeStruct(arm, value) : value;
    } else out[key] = value;
  }
  return out as ValueOf<T>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads one device struct (e.g. what `xl -N block-attach` prints after "disk: "). */
export function parseDevice<K extends DeviceKind>(kind: K, text: string | Uint8Array): DeviceOf<K> {
  const t = deviceSchemas[kind];
  if (!t) throw argumentError('ERR_INVALID_ARG_VALUE', `unknown device kind: ${String(kind)}`);
  return parseStruct(t, text) as DeviceOf<K>;
}

/** libxl_device_<kind>_to_json's exact text. */
export function formatDevice<K extends DeviceKind>(kind: K, device: DeviceOf<K>): string {
  const t = deviceSchemas[kind];
  if (!t) throw argumentError('ERR_INVALID_ARG_VALUE', `unknown device kind: ${String(kind)}`);
  return formatStruct(t, device as never);
}

/** A fresh value of any schema type as libxl's *_init leaves it (e.g. `defaultsOf(schema.vnc_info)`). */
export function defaultsOfType<T extends schema.SchemaType>(t: T): ValueOf<T> {
  return defaultsOf(t) as ValueOf<T>;
}

export function defaultDomainConfig(): DomainConfig {
  return defaultsOf(schema.domain_config) as DomainConfig;
}
export function defaultCreateInfo(): DomainCreateInfo {
  return defaultsOf(schema.domain_create_info) as DomainCreateInfo;
}
/** b_info after libxl_domain_build_info_init and init_type(type): the arm's defaults in `u`. */
export function defaultBuildInfo(type: DomainBuildInfo['type'] = 'invalid'): DomainBuildInfo {
  const info = defaultsOf(schema.domain_build_info) as Record<string, unknown>;
  info.type = type;
  info.u = defaultsOf(schema.domain_build_info.fields.find((f) => f[0] === 'u')![1].arms[type]!);
  return info as DomainBuildInfo;
}
/** Any device struct as libxl_device_<kind>_init leaves it. */
export function defaultDevice<K extends DeviceKind>(kind: K): DeviceOf<K> {
  return defaultsOf(deviceSchemas[kind]) as DeviceOf<K>;
}
export const defaultDeviceDisk = (): DeviceDisk => defaultDevice('disk');
export const defaultDeviceNic = (): DeviceNic => defaultDevice('nic');
export const defaultDevicePci = (): DevicePci => defaultDevice('pci');
export const defaultDeviceRdm = (): DeviceRdm => defaultDevice('rdm');
export const defaultDeviceDtdev = (): DeviceDtdev => defaultDevice('dtdev');
export const defaultDeviceVfb = (): DeviceVfb => defaultDevice('vfb');
export const defaultDeviceVkb = (): DeviceVkb => defaultDevice('vkb');
export const defaultDeviceVtpm = (): DeviceVtpm => defaultDevice('vtpm');
export const defaultDeviceP9 = (): DeviceP9 => defaultDevice('p9');
export const defaultDevicePvcallsif = (): DevicePvcallsif => defaultDevice('pvcallsif');
export const defaultDeviceVdispl = (): DeviceVdispl => defaultDevice('vdispl');
export const defaultDeviceVsnd = (): DeviceVsnd => defaultDevice('vsnd');
export const defaultDeviceChannel = (): DeviceChannel => defaultDevice('channel');
export const defaultDeviceUsbctrl = (): DeviceUsbctrl => defaultDevice('usbctrl');
export const defaultDeviceUsbdev = (): DeviceUsbdev => defaultDevice('usbdev');

/** Deep copy of a config (or any part of one), unknown keys included. */
export function cloneDomainConfig<T = DomainConfig>(config: T): T {
  return deepClone(config);
}

/** Structural equality of two configs (or parts), unknown keys included. */
export function domainConfigEquals(a: unknown, b: unknown): boolean {
  return deepEquals(a, b);
}


