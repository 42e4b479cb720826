// The backend waits of an add: InitWait after the nodes are committed, and
// the hotplug script's status.
import type { XenStore } from '../../xenstore/index.js';
import { XenbusState } from '../../xen.js';
import { HotplugError, signalOption, type AddedDevice } from './common.js';


/** libxl__wait_device_connection (QEMU backends skip it): InitWait (or beyond); the hotplug script runs next. */
export async function waitForBackendInit(xenstore: XenStore, added: AddedDevice, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const statePath = `${added.backendPath}/state`;
  const details = { domid: added.domid, kind: added.kind, devid: added.devid, path: statePath };
  const result = await xenstore.waitFor(statePath, (state) => state === undefined || Number(state) >= XenbusState.InitWait, { timeoutMs, ...signalOption(signal) });
  if (!result.reached) {
    throw new HotplugError('ETIMEDOUT', `backend ${added.backendPath} did not reach InitWait within ${timeoutMs} ms`, details);
  }
  const state = result.value === undefined ? undefined : Number(result.value);
  if (state === undefined || state > XenbusState.Connected) {
    throw new HotplugError('EHOTPLUG', `backend ${added.backendPath} ${state === undefined ? 'was removed' : `went to state ${state}`} before InitWait`, details);
  }
  added.backendState = state;
}

/** The backend's hotplug-status once the script ran ("error" is a failure). */
export async function readHotplugStatus(xenstore: XenStore, added: AddedDevice): Promise<void> {
  const details = { domid: added.domid, kind: added.kind, devid: added.devid };
  const [status, error] = await xenstore.readMany([`${added.backendPath}/hotplug-status`, `${added.backendPath}/hotplug-error`]);
  added.hotplugStatus = status;
  if (status === 'error') {
    throw new HotplugError('EHOTPLUG', `hotplug script of ${added.backendPath} failed${error ? `: ${error.slice(0, 512)}` : ''}`, {
      ...details, path: `${added.backendPath}/hotplug-status`,
    });
  }
}
