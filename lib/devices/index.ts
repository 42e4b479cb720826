export { DEVICE_TYPES, deviceType, findDeviceType, LISTED_DEVICE_TYPES, type DeepPartial, type DeviceInput, type DeviceKindName } from './kinds/index.js';
export type { DeviceListCli, GuestReported, ListedDetails, ListedDevice, ListingReader } from './listing.js';
export type {
  AttachContext,
  AttachRecipe,
  AttachStep,
  CreatedDomain,
  DefaultsContext,
  DeviceArrayName,
  DeviceCli,
  DeviceEntry,
  DeviceType,
  DomainType,
  HotplugAction,
  HotplugRecipe,
  ScriptCall,
} from './kind.js';
export { DeviceDefaultsError, DeviceEntryError } from './kinds/common.js';
export { generateMac } from './kinds/nic.js';
export {
  MAX_DEVICES_PER_KIND,
  type DeviceProblem,
  type FollowUpReads,
  type LiveDevice,
  type LiveList,
  type LiveView,
} from './live.js';
export { deviceFollowUps, deviceProbes, mergeDevices, templateDeviceKinds, type DeviceArrays, type DeviceMerge, type MergedDevice, type TemplateOnlyDevice } from './merge.js';
export {
  cleanupPath,
  cleanupPaths,
  destroyDeviceNodes,
  deviceExists,
  deviceNodes,
  planDeviceAdd,
  writeDeviceAdd,
  writeDeviceClosing,
  type AddContext,
  type AddRecipe,
  type DeviceAddPlan,
  type DeviceNodes,
  type KeyValues,
  type XenStoreWriteOps,
  type XsPermission,
} from './writes.js';
export { SpecError, type DeviceJson } from './spec.js';
export {
  formatPciAddress,
  parseBackendPath,
  parsePciAddress,
  parseUint64,
  XenstoreValueError,
  type PciAddress,
} from './parse.js';
