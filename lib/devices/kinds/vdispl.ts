// The virtual display (libxl_device_vdispl, array `vdispls`, identity devid):
// libxl_vdispl.c's libxl__vdispl_from_xenstore, update_config and
// libxl__set_xenstore_vdispl, the create-time devid patch, and xl's
// vdispl-attach/-detach with parse_vdispl_config's keys.
import { schema } from '../../config/index.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
import { asString, parseKeyValueSpec, SpecError, unsignedDecimal, type JsonValue } from '../spec.js';
import { numberedChildren, reportedInt, strtoul, valueAt, valuesOf, xlInt, type ListedDevice } from '../listing.js';
import type { KeyValues } from '../writes.js';
import {
  backendDomidOf, detachByDevid, DeviceEntryError, devidIdentity, devidOf, flag, genericBackend, genericFrontend, kernelBackend, patchOrderedDevids,
} from './common.js';

const { device_vdispl } = schema;

/** connectors=<id>:<W>x<H>[;<id>:<W>x<H>…] */
function parseConnectors(value: string, fail: (reason: string) => never): JsonValue {
  return value.split(';').map((connector) => {
    const colon = connector.indexOf(':');
    const match = colon < 0 ? null : /^([0-9]+)x([0-9]+)$/.exec(connector.slice(colon + 1));
    if (!match || Number(match[1]) > 0xffff_ffff || Number(match[2]) > 0xffff_ffff) {
      return fail(`connector '${connector}' is not <id>:<width>x<height>`);
    }
    return { unique_id: connector.slice(0, colon), width: Number(match[1]), height: Number(match[2]) };
  });
}

/** `xl vdispl-attach` arguments, one KEY=VALUE each (parse_vdispl_config); xl insists on a connector. */
export function parseVdisplSpec(words: string | readonly string[]) {
  const vdispl = parseKeyValueSpec('vdispl', device_vdispl, words, {
    keys: {
      backend: { field: 'backend_domname', parse: asString },
      'be-alloc': { field: 'be_alloc', parse: (value, fail) => unsignedDecimal(0xffff_ffff)(value, fail) !== 0 },
      connectors: { field: 'connectors', parse: parseConnectors },
    },
    commas: false,
  });
  if (vdispl.connectors === undefined) {
    throw new SpecError('vdispl', typeof words === 'string' ? words : words.join(' '), 'at least one connector should be specified');
  }
  return vdispl;
}

/** libxl__set_xenstore_vdispl: be-alloc and each connector, read-only to the guest. */
function vdisplReadOnlyFrontend(entry: DeviceEntry): KeyValues {
  const connectors = entry.connectors ?? [];
  if (!Array.isArray(connectors)) throw new DeviceEntryError('connectors', 'expected an array');
  const values: Array<readonly [string, string]> = [['be-alloc', flag(entry, 'be_alloc') ? '1' : '0']];
  connectors.forEach((connector: { unique_id?: unknown; width?: unknown; height?: unknown }, i) => {
    if (typeof connector.unique_id !== 'string') throw new DeviceEntryError(`connectors[${i}].unique_id`, 'expected a string');
    values.push([`${i}/resolution`, `${Number(connector.width ?? 0)}x${Number(connector.height ?? 0)}`], [`${i}/unique-id`, connector.unique_id]);
  });
  return values;
}

/** The keys of one connector libxl__device_vdispl_getconnectors reads. */
const CONNECTOR_KEYS = ['unique-id', 'resolution', 'req-ring-ref', 'req-event-channel', 'evt-ring-ref', 'evt-event-channel'] as const;
/** sscanf(value, "%ux%u") matching both numbers. */
const RESOLUTION = /^[ \t\n\v\f\r]*([+-]?[0-9]+)x[ \t\n\v\f\r]*([+-]?[0-9]+)/;

/**
 * xl_vdispl.c main_vdispllist's lines for one device; none when libxl's
 * getinfo fails on what the frontend holds (a connector without unique-id or
 * a readable resolution), as xl then prints nothing for it.
 */
function vdisplLines(device: ListedDevice, domid: number): string {
  const reported = device.guestReported.details as { 'be-alloc'?: string; connectors: Record<string, string>[] } | undefined;
  const connectors = reported?.connectors ?? [];
  const lines: string[] = [];
  for (const [j, connector] of connectors.entries()) {
    const resolution = RESOLUTION.exec(connector.resolution ?? '');
    if (connector['unique-id'] === undefined || !resolution) return '';
    lines.push(`\tConnector: ${j}, id: ${connector['unique-id']}, width: ${xlInt(resolution[1])}, height: ${xlInt(resolution[2])}, `
      + `req-rref: ${xlInt(connector['req-ring-ref'])}, req-evtch: ${xlInt(connector['req-event-channel'])}, `
      + `evt-rref: ${xlInt(connector['evt-ring-ref'])}, evt-evtch: ${xlInt(connector['evt-event-channel'])}\n`);
  }
  const beAlloc = reported?.['be-alloc'] === undefined ? 0 : Number(strtoul(reported['be-alloc']) !== 0n);
  return `DevId: ${device.devid}, BE: ${device.backendDomid}, handle: ${domid}, state: ${reportedInt(device, 'state')}, `
    + `be-alloc: ${beAlloc}, BE-path: ${device.backendPath}, FE-path: ${device.frontendPath}\n${lines.join('')}`;
}

export const vdispl: DeviceType = {
  name: 'vdispl',
  schema: device_vdispl,
  array: 'vdispls',
  ...devidIdentity('vdispl', 'vdispl'),
  // Its frontend keys are per connector, pcm or ring: none reported.
  reportedFrontendKeys: [],
  patchCreated: (entries, domain) => patchOrderedDevids(domain, 'vdispl', entries),

  add: {
    nextDevid: true,
    async setDefault() {},
    updateConfig(saved, full) {
      saved.devid = full.devid;
      saved.be_alloc = full.be_alloc;
    },
    frontendKind: () => 'vdispl',
    backendKind: () => 'vdispl',
    devid: devidOf,
    backendDomid: backendDomidOf,
    backend: (_entry, context) => genericBackend(context),
    frontend: (entry) => genericFrontend(entry),
    readOnlyFrontend: vdisplReadOnlyFrontend,
    qemuBackend: kernelBackend,
  },

  cli: {
    noun: 'vdispl',
    specName: 'vdispl',
    attachUsage: '<vdispl-spec-component(s)...>',
    attachDescription: 'hotplug a virtual display; keys as xl vdispl-attach takes them, e.g. connectors=id0:1920x1080',
    parseSpec: parseVdisplSpec,
    attached: (_entry, devid) => `vdispl ${devid}`,
    detachUsage: '<devid>',
    detachDescription: 'unplug a virtual display by devid',
    forceOption: false,
    detachTarget: detachByDevid,
    // xl: libxl_device_vdispl_remove (waits for the backend, then forces).
    detachForce: false,
  },

  // xl_vdispl.c main_vdispllist over libxl_device_vdispl_getinfo: be-alloc and the connectors from the frontend dir.
  list: {
    noun: 'vdispl',
    description: 'list virtual displays, as xl vdispl-list prints them',
    async details(device, reader) {
      const frontend = await reader.readTree(device.frontendPath);
      const beAlloc = valueAt(frontend, 'be-alloc');
      return {
        reported: {
          ...(beAlloc === undefined ? {} : { 'be-alloc': beAlloc }),
          connectors: numberedChildren(frontend).map((connector) => valuesOf(connector, CONNECTOR_KEYS)),
        },
      };
    },
    format: (devices, domid) => devices.map((device) => vdisplLines(device, domid)).join(''),
  },
};
