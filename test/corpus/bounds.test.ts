// Resource bounds on what comes from outside, each with its test here or
// where named: every input read has a size limit, every loop driven by
// external data a cap, every wait a timeout or a signal.
//   template file read: MAX_TEMPLATE_BYTES (here; store's input: test/cli/hardening.test.ts)
//   xenstore reply: MAX_REPLY_PAYLOAD (test/xenstore/wire.test.ts)
//   QEMU's QMP reply: 1 MiB (test/domain/qmp.test.ts › a reply longer than 1 MiB…)
//   template max_vcpus: MAX_VCPUS (test/domain/retrieve.test.ts › a template claiming 2 000 000 000 vCPUs…)
//   devices listed per kind: MAX_DEVICES_PER_KIND (here)
//   cpu nodes counted by list: MAX_VCPUS (here)
//   lock wait: timeout and AbortSignal (test/userdata/store.test.ts › a second holder … times out; … AbortSignal)
//   backend wait: timeoutMs (test/hotplug/hotplug.test.ts); hotplug script: 40 s (test/hotplug/scripts.test.ts)
//   transaction retries: maxRetries (test/xenstore/transaction.test.ts › gives up after maxRetries…)
//   a request to a frozen xenstored waits as libxenstore's does; the command ends on SIGINT/SIGTERM (test/faults/daemon.test.ts)
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_DEVICES_PER_KIND } from '../../lib/devices/index.js';
import { XenHost } from '../../lib/host.js';
import { MAX_TEMPLATE_BYTES } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir, uuidOf } from '../domain/fixture.js';
import { useLocalXenstored } from '../harness/xenstored.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;
let host: XenHost;

beforeAll(() => {
  store = XenStore.open({ path: xs.current.socketPath });
  host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
});
afterAll(async () => {
  await host?.close();
  await store?.close();
  userdata.remove();
});

/** Writes many nodes, a few hundred requests in flight at a time. */
async function writeAll(nodes: [string, string][]): Promise<void> {
  for (let i = 0; i < nodes.length; i += 256) await Promise.all(nodes.slice(i, i + 256).map(([path, value]) => store.write(path, value)));
}

describe('resource bounds', () => {
  it('a template file larger than MAX_TEMPLATE_BYTES is not read: ECORRUPT naming it', async () => {
    await createDomain(store, userdata.dir, { domid: 1, name: 'large', type: 'pv' });
    const path = join(userdata.dir, `userdata-d.1.${uuidOf(1)}.libxl-json`);
    writeFileSync(path, `{"x": "${'x'.repeat(MAX_TEMPLATE_BYTES)}"}\0`);
    await expect(host.retrieveDomainConfiguration(1)).rejects.toMatchObject({ code: 'ECORRUPT', message: expect.stringContaining(`more than the ${MAX_TEMPLATE_BYTES} bytes`) });
  });

  it(`devices listed under /libxl beyond MAX_DEVICES_PER_KIND (${MAX_DEVICES_PER_KIND}) are not read: one problem says so`, async () => {
    await createDomain(store, userdata.dir, { domid: 2, name: 'many-devices', type: 'pv' });
    const count = MAX_DEVICES_PER_KIND + 10;
    await writeAll(Array.from({ length: count }, (_, devid): [string, string] => [`/libxl/2/device/vif/${devid}/handle`, String(devid)]));
    const { devices } = await host.retrieveDomainConfiguration(2);
    expect(devices.problems).toContainEqual({ kind: 'nic', path: '/libxl/2/device/vif', reason: `more than ${MAX_DEVICES_PER_KIND} entries; the rest were not read` });
    expect(devices.onlyInXenstore.length).toBeLessThanOrEqual(MAX_DEVICES_PER_KIND);
  });

  it('cpu nodes beyond Xen\'s 4096 vCPUs are not counted by list', async () => {
    await createDomain(store, userdata.dir, { domid: 3, name: 'many-cpus', type: 'pv', maxVcpus: 1, onlineVcpus: 1 });
    await writeAll(Array.from({ length: 4100 }, (_, cpu): [string, string] => [`/local/domain/3/cpu/${cpu}/availability`, 'online']));
    const listed = await host.listDomains();
    expect(listed.find((entry) => entry.domid === 3)).toMatchObject({ name: 'many-cpus', vcpus: 4096 });
  });
});
