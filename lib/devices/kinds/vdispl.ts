// The virtual display (libxl_device_vdispl, array `vdispls`, identity devid):
// libxl__vdispl_from_xenstore, and the create-time devid patch.
import { schema } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import { devidIdentity, patchOrderedDevids } from './common.js';

export const vdispl: DeviceType = {
  name: 'vdispl',
  schema: schema.device_vdispl,
  array: 'vdispls',
  ...devidIdentity('vdispl', 'vdispl'),
  patchCreated: (entries, domain) => patchOrderedDevids(domain, 'vdispl', entries),
};
