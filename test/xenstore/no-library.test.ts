// Machines without Xen: the addon loads, and opening reports the missing
// library in one actionable error. Runs in its own process (vitest forks),
// so pointing the loader at a missing library affects this file only.
import { describe, expect, it } from 'vitest';
import { native } from '../../lib/native.js';
import { XenStore, XenStoreError } from '../../lib/xenstore/index.js';

describe('without libxenstore', () => {
  it('loads the addon and explains what is missing on open', () => {
    process.env.XEN_DOMCONFIG_LIBXENSTORE = '/nonexistent/libxenstore.so.4';
    const addon = native();
    expect(typeof addon.flock).toBe('function');
    const status = addon.libraryStatus();
    expect(status.loaded).toBe(false);
    expect(status.error).toContain('/nonexistent/libxenstore.so.4');

    let error: unknown;
    try {
      XenStore.open({ path: '/nonexistent/socket' });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(XenStoreError);
    expect(error).toMatchObject({ code: 'ERR_XENSTORE_UNAVAILABLE', syscall: 'dlopen' });
    const message = (error as Error).message;
    expect(message).toContain('libxenstore could not be loaded');
    expect(message).toContain('libxenstore4');
    expect(message).toContain('/nonexistent/libxenstore.so.4');
    expect(message.split('xenstore is unavailable')).toHaveLength(2); // one error, not a chain of messages
  });
});
