// The backend waits of an add and a remove: a xenstore node watched until
// it reaches a state, InitWait after an add, and the hotplug script's status.
import { AbortError, type XenStore } from '../../xenstore/index.js';
import { XenbusState } from '../../xen.js';
import { HotplugError, type AddedDevice } from './common.js';


/** libxl__wait_device_connection (QEMU backends skip it): InitWait (or beyond); the hotplug script runs next. */
export async function waitForBackendInit(xenstore: XenStore, added: AddedDevice, timeoutMs: number, signal: AbortSignal | undefined): Promise<void> {
  const statePath = `${added.backendPath}/state`;
  const details = { domid: added.domid, kind: added.kind, devid: added.devid, path: statePath };
  const result = await waitFor(xenstore, statePath, (state) => state === undefined || Number(state) >= XenbusState.InitWait, timeoutMs, signal);
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

/**
 * Watches path until done(value) holds, for at most timeoutMs. The watch's
 * initial event covers a value reached before the watch was set. Aborting
 * the signal rejects with an AbortError.
 */
export async function waitFor(
  xenstore: XenStore,
  path: string,
  done: (value: string | undefined) => boolean,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ reached: boolean; value?: string | undefined }> {
  if (signal?.aborted) throw new AbortError(signal);
  // The timeout and the caller's abort end the loop; which of them it was is told below.
  const events = xenstore.watch(path);
  const stop = () => { void events.return?.(); };
  const timer = setTimeout(stop, timeoutMs);
  signal?.addEventListener('abort', stop, { once: true });
  try {
    for await (const _event of events) {
      const value = await xenstore.read(path);
      if (done(value)) return { reached: true, value };
    }
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', stop);
  }
  if (signal?.aborted) throw new AbortError(signal);
  return { reached: false };
}
