// The domain layer: retrieve, list and diff; the create-time save; hotplug and unplug.
export { DomainError, type DomainErrorCode } from './errors.js';
export type { DeviceReport, RetrievedDomain, RetrieveOptions } from './retrieve.js';
export type { StateReader } from './state.js';
export type { StoreOptions } from './store.js';
export type { ListOptions, LongListEntry, ShortListEntry, DomainSummary, DomainFailure } from './list.js';
export type { DomainDrift, ScalarDrift, RefreshedField } from './diff.js';
export {
  HotplugError, type HotplugErrorCode, type HotplugErrorDetails, type AddDeviceOptions, type AddedDevice,
  type RemoveDeviceOptions, type RemovedDevice,
} from './hotplug.js';
export type { DeviceListing, GuestReported, ListedDevice } from './list-devices.js';
