// Device hotplug and unplug, with libxl's protocol and its invariant "every
// device in xenstore has a template entry":
//   hotplug/add.ts     — defaults, then template and nodes in one xenstore
//                        transaction under the domain-userdata lock, then the backend
//   hotplug/remove.ts  — Closing, wait for Closed (forcing after a timeout), remove the nodes
//   hotplug/attach.ts  — the same for kinds with an attach procedure of their own (usbdev)
//   hotplug/backend.ts — the waits for the backend's state and hotplug status
//   hotplug/common.ts  — the public shapes, HotplugError and the checks they share
export { addDevice } from './hotplug/add.js';
export { removeDevice } from './hotplug/remove.js';
export {
  BACKEND_CLOSE_TIMEOUT_MS,
  BACKEND_INIT_TIMEOUT_MS,
  HotplugError,
  deviceTypeNamed,
  hotplugKinds,
  type AddDeviceOptions,
  type AddedDevice,
  type HotplugContext,
  type HotplugErrorCode,
  type HotplugErrorDetails,
  type RemoveDeviceOptions,
  type RemovedDevice,
} from './hotplug/common.js';
