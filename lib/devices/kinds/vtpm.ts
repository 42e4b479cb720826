// The virtual TPM (libxl_device_vtpm, array `vtpms`, identity devid):
// libxl_vtpm.c's setdefault, update_config and libxl__set_xenstore_vtpm, the
// create-time devid/uuid patch, and xl's vtpm-attach/-detach.
import { NIL_UUID, parseUuid, schema } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import { field, reportedInt, row } from '../listing.js';
import { XenstoreValueError } from '../parse.js';
import { asString, parseKeyValueSpec } from '../spec.js';
import {
  backendDomidOf, detachByDevid, devidIdentity, devidOf, genericBackend, genericFrontend, isUnset, kernelBackend, patchOrderedDevids, requiredText,
} from './common.js';

/** `xl vtpm-attach` arguments, one KEY=VALUE each: uuid= and backend=. */
export function parseVtpmSpec(words: string | readonly string[]) {
  return parseKeyValueSpec('vtpm', schema.device_vtpm, words, {
    keys: {
      uuid: { field: 'uuid', parse: (value, fail) => parseUuid(value) ?? fail(`invalid uuid '${value}'`) },
      backend: { field: 'backend_domname', parse: asString },
    },
    commas: false,
  });
}

export const vtpm: DeviceType = {
  name: 'vtpm',
  schema: schema.device_vtpm,
  array: 'vtpms',
  ...devidIdentity('vtpm', 'vtpm'),

  async patchCreated(entries, domain) {
    await patchOrderedDevids(domain, 'vtpm', entries);
    for (const entry of entries) {
      if (entry.uuid !== NIL_UUID) continue;
      const [uuid] = await domain.readMany([`/libxl/${domain.domid}/device/vtpm/${entry.devid as number}/uuid`]);
      entry.uuid = (uuid !== undefined ? parseUuid(uuid) : null) ?? crypto.randomUUID();
    }
  },

  add: {
    nextDevid: true,
    async setDefault(entry) {
      if (isUnset(entry.uuid) || entry.uuid === NIL_UUID) entry.uuid = crypto.randomUUID();
    },
    updateConfig(saved, full) {
      saved.devid = full.devid;
      saved.uuid = full.uuid;
    },
    frontendKind: () => 'vtpm',
    backendKind: () => 'vtpm',
    devid: devidOf,
    backendDomid: backendDomidOf,
    backend: (entry, context) => [
      ...genericBackend(context),
      ['handle', String(devidOf(entry))],
      ['uuid', requiredText(entry, 'uuid').toLowerCase()],
      ['resume', 'False'],
    ],
    frontend: (entry) => [...genericFrontend(entry), ['handle', String(devidOf(entry))]],
    readOnlyFrontend: () => [],
    qemuBackend: kernelBackend,
  },

  cli: {
    noun: 'vtpm',
    specName: 'vtpm',
    attachUsage: '[key=value...]',
    attachDescription: 'hotplug a virtual TPM; keys as xl vtpm-attach takes them: uuid=, backend=',
    parseSpec: parseVtpmSpec,
    attached: (entry, devid) => `vtpm ${devid} (uuid ${String(entry.uuid)})`,
    detachUsage: '<devid-or-uuid>',
    detachDescription: 'unplug a virtual TPM by devid or uuid',
    forceOption: false,
    detachTarget: (which) => {
      const uuid = parseUuid(which);
      if (uuid === null) return detachByDevid(which);
      return { lookup: (entry) => entry.uuid === uuid, what: `vtpm with uuid ${uuid}` };
    },
    // xl: libxl_device_vtpm_remove (waits for the backend, then forces).
    detachForce: false,
  },

  // xl_vtpm.c main_vtpmlist over libxl_device_vtpm_getinfo; the uuid is the /libxl node's (libxl__vtpm_from_xenstore).
  list: {
    noun: 'vtpm',
    description: 'list virtual TPMs, as xl vtpm-list prints them',
    header: row(['Idx', -3], ['BE', -2], ['Uuid', -36], ['handle', -6], ['state', -5], ['evt-ch', -6], ['ring-ref', -5], ['BE-path', -10]),
    async details(device, reader) {
      const path = `${device.libxlPath}/uuid`;
      const [text] = await reader.readMany([path]);
      const uuid = text === undefined ? NIL_UUID : parseUuid(text);
      if (uuid === null) throw new XenstoreValueError(path, 'not a uuid', text);
      return { details: { uuid } };
    },
    format: (devices) => devices.map((d) => `${field(d.devid, -3)} ${field(d.backendDomid, -2)} ` + row(
      [String(d.details?.uuid), 0], [d.devid, 6], [reportedInt(d, 'state'), 5], [reportedInt(d, 'event-channel'), 6],
      [reportedInt(d, 'ring-ref'), 8], [d.backendPath, -30],
    )).join(''),
  },
};
