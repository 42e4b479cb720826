// xen-domconfig: the package root.
export {
  XenDomconfigError, ERROR_CODES, EXIT, exitStatusOf, isLibraryErrorCode,
  type ErrorCode, type LibraryErrorCode, type SystemErrorCode, type ErrorDetails, type SystemErrorDetails, type ExitCode,
} from './errors.js';
export * from './xenstore/index.js';
export { DOMAIN_TYPES, DOMID_FIRST_RESERVED, MAX_DOMID, XenbusState } from './xen.js';
export { NativeAddonError } from './native.js';
export {
  ConfigError, parseDomainConfig, formatDomainConfig, formatDomainList, parseDomainList,
  parseDevice, formatDevice, cloneDomainConfig, domainConfigEquals, defaultDomainConfig,
  defaultDevice, diskDevNumber, diskVdevName, parseMac, formatMac, isUuid, MEMKB_DEFAULT, schema,
  type DomainListEntry,
} from './config/index.js';
export type * from './config/types.js';
export {
  TemplateStore, TemplateError, DEFAULT_USERDATA_DIR, DEFAULT_LOCK_TIMEOUT_MS,
  type TemplateStoreOptions, type DomainFileOptions, type LockOptions, type ReleaseLock, type ReleaseOptions, type TemplatePaths,
  type TemplateErrorDetails,
} from './userdata/index.js';
export { XenHost, type XenHostOptions, type XenHostOpenOptions } from './host.js';
export * from './domain/index.js';
export * from './mirror/index.js';
export {
  DEVICE_TYPES, deviceType, type DeviceType, type DeviceKindName, type DeviceInput, type DeepPartial, type DeviceEntry,
  type LiveDevice, type DeviceProblem, type MergedDevice, type TemplateOnlyDevice,
} from './devices/index.js';
