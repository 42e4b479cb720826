// The PV calls interface (libxl_device_pvcallsif, array `pvcallsifs`, identity
// devid under /libxl/<domid>/device/pvcalls): made at create time only (xl has
// no attach verb); removeDevice unplugs it and prunes its entry.
import { schema } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import { devidIdentity } from './common.js';

export const pvcallsif: DeviceType = {
  name: 'pvcallsif',
  schema: schema.device_pvcallsif,
  array: 'pvcallsifs',
  ...devidIdentity('pvcallsif', 'pvcalls'),
  // Its frontend keys are per connector, pcm or ring: none reported.
  reportedFrontendKeys: [],
  entriesOptional: true,
};
