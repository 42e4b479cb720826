// The virtual TPM (libxl_device_vtpm, array `vtpms`, identity devid):
// libxl_vtpm.c's setdefault, update_config and libxl__set_xenstore_vtpm, and
// the create-time devid/uuid patch.
import { randomUUID } from 'node:crypto';
import { NIL_UUID, parseUuid, schema } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import {
  backendDomidOf, devidIdentity, devidOf, genericBackend, genericFrontend, isUnset, kernelBackend, patchOrderedDevids, requiredText,
} from './common.js';

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
      entry.uuid = (uuid !== undefined ? parseUuid(uuid) : null) ?? randomUUID();
    }
  },

  add: {
    nextDevid: true,
    async setDefault(entry) {
      if (isUnset(entry.uuid) || entry.uuid === NIL_UUID) entry.uuid = randomUUID();
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
};
