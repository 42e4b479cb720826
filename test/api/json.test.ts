// JSON.stringify of every result works and keeps 64-bit values exact: a
// bigint is a number where that is exact and a decimal string beyond, an
// error is its name, message and fields (lib/util/json.ts).
import { writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir, uuidOf } from '../domain/fixture.js';
import { useLocalXenstored } from '../harness/xenstored.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;
let host: XenHost;
const HUGE = 2n ** 60n + 1n;

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  host = new XenHost({ xenstore: store, userdataDir: userdata.dir, runHotplugScripts: false });
  await store.write('/local/domain/0/name', 'Domain-0');
  await createDomain(store, userdata.dir, { domid: 1, name: 'big', type: 'pv', template: (config) => { config.b_info.shadow_memkb = HUGE; } });
  await createDomain(store, userdata.dir, { domid: 2, name: 'broken', type: 'pv' });
  await writeFile(host.templates.paths(2, uuidOf(2)).data, '{ not json');
});
afterAll(async () => {
  await host?.close();
  await store?.close();
  userdata.remove();
});

const roundTrip = (value: unknown) => JSON.parse(JSON.stringify(value)) as Record<string, any>;

describe('JSON of results', () => {
  it('a retrieved domain: safe 64-bit values as numbers, larger ones as exact decimal strings', async () => {
    const retrieved = await host.retrieveDomainConfiguration(1);
    expect(retrieved.config.b_info.shadow_memkb).toBe(HUGE);
    const json = roundTrip(retrieved);
    expect(json.config.b_info.shadow_memkb).toBe('1152921504606846977');
    expect(json.config.b_info.target_memkb).toBe(262144);
    expect(json.domid).toBe(1);
    expect(Object.keys(retrieved)).not.toContain('toJSON'); // the result's own keys are unchanged
  });

  it('a long list with a domain that cannot be retrieved: the error as name, code and message', async () => {
    const json = roundTrip(await host.listDomains({ long: true }));
    const broken = json.find((entry: { domid: number }) => entry.domid === 2);
    expect(broken.error).toMatchObject({ name: expect.any(String), code: 'ECORRUPT', message: expect.any(String) });
    expect(json.find((entry: { domid: number }) => entry.domid === 1).config.c_info.name).toBe('big');
  });

  it('a drift report with 64-bit changes, and a mirror event', async () => {
    await store.write('/local/domain/1/memory/target', '131072');
    const drift = roundTrip(await host.diffDomainConfiguration(1));
    expect(JSON.stringify(drift)).toContain('131072');
    await using mirror = host.mirror();
    await mirror.ready;
    const events = mirror.events();
    await store.write('/local/domain/1/memory/target', '65536');
    const { value } = await events.next();
    expect(roundTrip(value)).toMatchObject({ type: 'changed', domid: 1, changes: [{ path: 'config.b_info.target_memkb', old: 131072, new: 65536 }] });
    expect(roundTrip(mirror.get(1)).config.b_info.shadow_memkb).toBe('1152921504606846977');
  });
});
