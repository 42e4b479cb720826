// The virtual sound card (libxl_device_vsnd, array `vsnds`, identity devid):
// libxl_vsnd.c's libxl__vsnd_from_xenstore, update_config and
// libxl__set_xenstore_vsnd (the card, its pcms and their streams as nested
// frontend keys), the create-time devid patch, and xl's vsnd-attach/-detach
// with parse_vsnd_item's card/pcm/stream items.
import { schema } from '../../config/index.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
import { inFieldOrder, SpecError, splitOnce, type DeviceJson, type JsonValue } from '../spec.js';
import { cString, numberedChildren, reportedInt, valuesOf, xlInt, xlUnsigned, type ListedDevice } from '../listing.js';
import type { XenStoreNode } from '../live.js';
import type { KeyValues } from '../writes.js';
import {
  backendDomidOf, detachByDevid, DeviceEntryError, devidIdentity, devidOf, genericBackend, genericFrontend, kernelBackend, patchOrderedDevids,
} from './common.js';

const { device_vsnd, vsnd_pcm_format, vsnd_stream_type } = schema;

// ---------------------------------------------------------------------------
// xl's vsnd syntax: each argument is "card|pcm|stream" then KEY=VALUE params
// of that item (the last pcm, the last stream of the last pcm).

type Params = Map<string, JsonValue>;
interface Item { params: Params; fields: Map<string, JsonValue> }

/** parse_vsnd_params: false when the key is not a params key. */
function parseParams(params: Params, key: string, value: string, fail: (reason: string) => never): boolean {
  const number = (text: string): number => {
    if (!/^[0-9]+$/.test(text) || Number(text) > 0xffff_ffff) fail(`'${text}' is not a number from 0 to ${0xffff_ffff}`);
    return Number(text);
  };
  switch (key) {
    case 'sample-rates': params.set('sample_rates', value.split(';').map(number)); return true;
    case 'sample-formats':
      params.set('sample_formats', value.split(';').map((format) => {
        const lower = format.toLowerCase();
        return (vsnd_pcm_format.values as readonly string[]).includes(lower) ? lower : fail(`invalid pcm format '${format}'`);
      }));
      return true;
    case 'channels-min': params.set('channels_min', number(value)); return true;
    case 'channels-max': params.set('channels_max', number(value)); return true;
    case 'buffer-size': params.set('buffer_size', number(value)); return true;
    default: return false;
  }
}

function paramsJson(params: Params): JsonValue {
  return Object.fromEntries([...params].filter(([, value]) => value !== 0 && !(Array.isArray(value) && value.length === 0)));
}

/** `xl vsnd-attach` arguments, e.g. `card,short-name=Card` `pcm,name=p0` `stream,unique-id=s0,type=p`. */
export function parseVsndSpec(words: string | readonly string[]): DeviceJson {
  const list = typeof words === 'string' ? [words] : words;
  const spec = list.join(' ');
  const card: Item = { params: new Map(), fields: new Map() };
  const pcms: Array<Item & { streams: Item[] }> = [];
  for (const word of list) {
    const [key, ...tokens] = word.split(',').map((token) => token.replace(/^ +/, '')).filter((token) => token !== '');
    const fail = (reason: string, near = key): never => { throw new SpecError('vsnd', spec, reason, near); };
    const item = key?.toLowerCase();
    if (item === 'pcm') pcms.push({ params: new Map(), fields: new Map(), streams: [] });
    else if (item === 'stream') {
      if (pcms.length === 0) pcms.push({ params: new Map(), fields: new Map(), streams: [] });
      pcms.at(-1)!.streams.push({ params: new Map(), fields: new Map() });
    } else if (item !== 'card') fail(`invalid item '${key ?? ''}' (card, pcm or stream)`);
    for (const token of tokens) {
      const [name, value] = splitOnce(token, '=');
      const failHere = (reason: string): never => fail(reason, token);
      const target = item === 'card' ? card : item === 'pcm' ? pcms.at(-1)! : pcms.at(-1)!.streams.at(-1)!;
      if (value !== undefined && parseParams(target.params, name, value, failHere)) continue;
      if (item === 'card' && value !== undefined && ['backend', 'short-name', 'long-name'].includes(name)) {
        target.fields.set(name === 'backend' ? 'backend_domname' : name.replace('-', '_'), value);
      } else if (item === 'pcm' && value !== undefined && name === 'name') {
        target.fields.set('name', value);
      } else if (item === 'stream' && value !== undefined && name === 'unique-id') {
        target.fields.set('unique_id', value);
      } else if (item === 'stream' && value !== undefined && name === 'type') {
        const type = value.toLowerCase();
        target.fields.set('type', (vsnd_stream_type.values as readonly string[]).includes(type) ? type : failHere(`invalid stream type '${value}' (p or c)`));
      } else {
        failHere(`invalid parameter '${name}' for ${item}`);
      }
    }
  }
  const values = new Map<string, JsonValue>(card.fields);
  values.set('params', paramsJson(card.params));
  values.set('pcms', pcms.map((pcm) => ({
    ...Object.fromEntries(pcm.fields),
    params: paramsJson(pcm.params),
    streams: pcm.streams.map((stream) => ({ ...Object.fromEntries(stream.fields), params: paramsJson(stream.params) })),
  })));
  return inFieldOrder(device_vsnd, values);
}

// ---------------------------------------------------------------------------
// xenstore (libxl__set_xenstore_vsnd): every key guest-writable, as libxl has it

interface VsndParams { sample_rates?: number[]; sample_formats?: string[]; channels_min?: number; channels_max?: number; buffer_size?: number }
interface VsndStream { unique_id?: string | null; type?: string | null; params?: VsndParams }
interface VsndPcm { name?: string | null; params?: VsndParams; streams?: VsndStream[] }

/** libxl__set_params_vsnd under `prefix`. */
function paramKeys(prefix: string, params: VsndParams | undefined): KeyValues {
  const values: Array<readonly [string, string]> = [];
  if (params?.sample_rates?.length) values.push([`${prefix}sample-rates`, params.sample_rates.join(',')]);
  if (params?.sample_formats?.length) values.push([`${prefix}sample-formats`, params.sample_formats.join(',')]);
  if (params?.channels_min) values.push([`${prefix}channels-min`, String(params.channels_min)]);
  if (params?.channels_max) values.push([`${prefix}channels-max`, String(params.channels_max)]);
  if (params?.buffer_size) values.push([`${prefix}buffer-size`, String(params.buffer_size)]);
  return values;
}

function vsndFrontend(entry: DeviceEntry): KeyValues {
  const values: Array<readonly [string, string]> = [];
  if (typeof entry.long_name === 'string') values.push(['long-name', entry.long_name]);
  if (typeof entry.short_name === 'string') values.push(['short-name', entry.short_name]);
  values.push(...paramKeys('', entry.params as VsndParams | undefined));
  const pcms = entry.pcms ?? [];
  if (!Array.isArray(pcms)) throw new DeviceEntryError('pcms', 'expected an array');
  (pcms as VsndPcm[]).forEach((pcm, i) => {
    if (typeof pcm.name === 'string') values.push([`${i}/name`, pcm.name]);
    values.push(...paramKeys(`${i}/`, pcm.params));
    (pcm.streams ?? []).forEach((stream, j) => {
      if (typeof stream.unique_id === 'string') values.push([`${i}/${j}/unique-id`, stream.unique_id]);
      if (typeof stream.type === 'string') values.push([`${i}/${j}/type`, stream.type]);
      values.push(...paramKeys(`${i}/${j}/`, stream.params));
    });
  });
  return values;
}

// ---------------------------------------------------------------------------
// xl vsnd-list: the card as libxl__vsnd_from_xenstore reads it back from the
// frontend dir (all guest-writable), and main_vsndlist's lines

const PARAM_KEYS = ['sample-rates', 'sample-formats', 'channels-min', 'channels-max', 'buffer-size'] as const;

interface ReportedStream { values: Record<string, string>; params: Record<string, string> }
interface ReportedPcm { values: Record<string, string>; params: Record<string, string>; streams: ReportedStream[] }
interface ReportedCard { values: Record<string, string>; params: Record<string, string>; pcms: ReportedPcm[] }

function reportedCard(frontend: XenStoreNode | undefined): ReportedCard {
  return {
    values: valuesOf(frontend, ['short-name', 'long-name']),
    params: valuesOf(frontend, PARAM_KEYS),
    pcms: numberedChildren(frontend).map((pcm) => ({
      values: valuesOf(pcm, ['name']),
      params: valuesOf(pcm, PARAM_KEYS),
      streams: numberedChildren(pcm).map((stream) => ({
        values: valuesOf(stream, ['unique-id', 'type', 'ring-ref', 'event-channel']),
        params: valuesOf(stream, PARAM_KEYS),
      })),
    })),
  };
}

/** The words strtok(value, " ,") yields. */
const tokens = (value: string | undefined): string[] => (value ?? '').split(/[ ,]/).filter((token) => token !== '');

/** libxl's enum from_string: the name in any case. */
function enumValue(values: readonly string[], text: string): string | undefined {
  return values.find((value) => value === text.toLowerCase());
}

/** print_params: what is set, then the line's end; undefined where libxl's parse of a format fails. */
function paramsText(params: Record<string, string>): string | undefined {
  let text = '';
  for (const key of ['channels-min', 'channels-max', 'buffer-size'] as const) {
    const value = params[key] === undefined ? 0 : xlUnsigned(params[key]);
    if (value) text += `, ${key}: ${value}`;
  }
  const rates = tokens(params['sample-rates']).map(xlUnsigned);
  if (rates.length > 0) text += `, sample-rates: ${rates.join(';')}`;
  const formats = tokens(params['sample-formats']).map((format) => enumValue(vsnd_pcm_format.values, format));
  if (formats.includes(undefined)) return undefined;
  // xl labels the formats sample-rates too.
  if (formats.length > 0) text += `, sample-rates: ${formats.join(';')}`;
  return `${text}\n`;
}

/** main_vsndlist's lines for one card; undefined where libxl's list fails (xl then prints nothing for the domain). */
function vsndLines(device: ListedDevice, domid: number): string | undefined {
  const card = device.guestReported.details as ReportedCard | undefined;
  if (!card) return undefined;
  const cardParams = paramsText(card.params);
  if (cardParams === undefined) return undefined;
  let text = `\ndevid: ${device.devid}, be-domid: ${device.backendDomid}, handle: ${domid}, state: ${reportedInt(device, 'state')}, `
    + `be-path: ${device.backendPath}, fe-path: ${device.frontendPath}\n`
    + `short-name: "${cString(card.values['short-name'])}", long-name: "${cString(card.values['long-name'])}"${cardParams}`;
  for (const [j, pcm] of card.pcms.entries()) {
    const pcmParams = paramsText(pcm.params);
    if (pcmParams === undefined) return undefined;
    text += `\tpcm: ${j}, name: "${cString(pcm.values.name)}"${pcmParams}`;
    for (const [k, stream] of pcm.streams.entries()) {
      const type = stream.values.type === undefined ? null : enumValue(vsnd_stream_type.values, stream.values.type);
      const streamParams = paramsText(stream.params);
      if (type === undefined || streamParams === undefined) return undefined;
      text += `\t\tstream: ${k}, unique-id: "${cString(stream.values['unique-id'])}", type: ${cString(type)}${streamParams}`
        + `\t\t\tevent-channel: ${xlInt(stream.values['event-channel'])}, ring-ref: ${xlInt(stream.values['ring-ref'])}\n`;
    }
  }
  return text;
}

export const vsnd: DeviceType = {
  name: 'vsnd',
  schema: device_vsnd,
  array: 'vsnds',
  ...devidIdentity('vsnd', 'vsnd'),
  // Its frontend keys are per connector, pcm or ring: none reported.
  reportedFrontendKeys: [],
  patchCreated: (entries, domain) => patchOrderedDevids(domain, 'vsnd', entries),

  add: {
    nextDevid: true,
    async setDefault() {},
    updateConfig(saved, full) {
      saved.devid = full.devid;
    },
    frontendKind: () => 'vsnd',
    backendKind: () => 'vsnd',
    devid: devidOf,
    backendDomid: backendDomidOf,
    backend: (_entry, context) => genericBackend(context),
    frontend: (entry) => [...genericFrontend(entry), ...vsndFrontend(entry)],
    readOnlyFrontend: () => [],
    qemuBackend: kernelBackend,
  },

  cli: {
    noun: 'vsnd',
    specName: 'vsnd',
    attachUsage: '<vsnd-item...>',
    attachDescription: 'hotplug a virtual sound card; items as xl vsnd-attach takes them, e.g. card,short-name=Card pcm,name=p0 stream,unique-id=s0,type=p',
    parseSpec: parseVsndSpec,
    attached: (_entry, devid) => `vsnd ${devid}`,
    detachUsage: '<devid>',
    detachDescription: 'unplug a virtual sound card by devid',
    forceOption: false,
    detachTarget: detachByDevid,
    // xl: libxl_device_vsnd_remove (waits for the backend, then forces).
    detachForce: false,
  },

  // xl_vsnd.c main_vsndlist over libxl_device_vsnd_list and _getinfo.
  list: {
    noun: 'vsnd',
    description: 'list virtual sound cards, as xl vsnd-list prints them',
    async details(device, reader) {
      return { reported: { ...reportedCard(await reader.readTree(device.frontendPath)) } };
    },
    format(devices, domid) {
      const lines = devices.map((device) => vsndLines(device, domid));
      return lines.includes(undefined) ? '' : lines.join('');
    },
  },
};
