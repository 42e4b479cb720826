// The virtual sound card (libxl_device_vsnd, array `vsnds`, identity devid):
// libxl__vsnd_from_xenstore, and the create-time devid patch.
import { schema } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import { devidIdentity, patchOrderedDevids } from './common.js';

export const vsnd: DeviceType = {
  name: 'vsnd',
  schema: schema.device_vsnd,
  array: 'vsnds',
  ...devidIdentity('vsnd', 'vsnd'),
  patchCreated: (entries, domain) => patchOrderedDevids(domain, 'vsnd', entries),
};
