// The 9pfs share (libxl_device_p9, array `p9s`, identity devid under
// /libxl/<domid>/device/9pfs): made at create time only (xl has no attach
// verb); removeDevice unplugs it. libxl assigns its devid at creation but never
// writes it into the template, so an entry made at create time has none and a
// remove cannot name it: it stays, as libxl leaves it.
import { schema } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import { devidIdentity } from './common.js';

export const p9: DeviceType = {
  name: 'p9',
  schema: schema.device_p9,
  array: 'p9s',
  ...devidIdentity('p9', '9pfs'),
  // Its frontend keys are per connector, pcm or ring: none reported.
  reportedFrontendKeys: [],
  entriesOptional: true,
};
