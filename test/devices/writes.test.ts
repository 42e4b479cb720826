// libxl's hotplug writes, compared node by node (value, permissions, key
// order) with the tree real libxl 4.17 left after `xl create` (fakexen golden).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseDomainConfig, type DeviceDisk, type DeviceNic } from '../../lib/config/index.js';
import {
  cleanupPath, destroyDeviceNodes, deviceExists, deviceType, planDeviceAdd, writeDeviceAdd, writeDeviceClosing,
  type AddContext, type DeviceEntry, type XenStoreWriteOps,
} from '../../lib/devices/index.js';
import { layOutDomain } from '../../lib/localxen/domains.js';
import { XenStore, type XenStoreNode, type XenStoreOps } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { goldenDir, goldenSubtree, hasGolden, readGoldenTree, type GoldenNode } from './golden.js';

const xs = useLocalXenstored();
let store: XenStore;
beforeAll(() => { store = XenStore.open({ path: xs.current.socketPath }); });
afterAll(async () => { await store.close(); });

/** Our nodes under root as path → value + permissions, children in listing order. */
async function dump(root: string): Promise<Map<string, GoldenNode>> {
  const out = new Map<string, GoldenNode>();
  const walk = async (node: XenStoreNode, path: string) => {
    out.set(path, { value: node.value, perms: await store.getPermissions(path) });
    for (const child of node.children) await walk(child, `${path}/${child.name}`);
  };
  const tree = await store.readTree(root);
  if (tree) await walk(tree, root);
  return out;
}

/** Backend keys the backend driver and hotplug script change after libxl wrote them. */
function withoutRuntimeKeys(nodes: Map<string, GoldenNode>, backendRoot: string): Map<string, GoldenNode> {
  return new Map([...nodes].filter(([path]) => path !== `${backendRoot}/state` && path !== `${backendRoot}/hotplug-status`));
}

async function addDevice(kind: string, entry: DeviceEntry, context: AddContext) {
  const plan = planDeviceAdd(deviceType(kind).add!, entry, context);
  await store.transaction(async (tx) => {
    expect(await deviceExists(tx, plan)).toBe(false);
    await writeDeviceAdd(tx, plan);
  });
  return plan;
}

const golden = 'real-create-xenstore-tree.txt';

describe.skipIf(!hasGolden(golden))(`disk and nic writes equal libxl's (${goldenDir()})`, () => {
  const cases = [
    { domid: 1, type: 'pv' as const, uuid: '22222222-3333-4444-5555-666666666666', name: 'realpv' },
    { domid: 2, type: 'pvh' as const, uuid: '33333333-4444-5555-6666-777777777777', name: 'realpvh' },
  ];
  for (const domain of cases) {
    it(`domain ${domain.domid} (${domain.type})`, async () => {
      const tree = readGoldenTree(golden);
      await store.write('/local/domain/0/domid', '0');
      await layOutDomain(store, { ...domain, maxMemKb: 524288, targetMemKb: 524288, maxVcpus: 1, onlineVcpus: 1 });
      const template = parseDomainConfig(readFileSync(resolve(goldenDir(), `real-create-userdata-d.${domain.domid}.${domain.uuid}.libxl-json`)));
      const context: AddContext = { domid: domain.domid, domainType: domain.type, nativeProtocol: 'x86_64-abi' };
      // What libxl's setdefault chose at create time: the phy backend, the default vif script.
      const disks: DeviceDisk[] = template.disks.map((disk) => ({ ...disk, backend: 'phy' }));
      const nics: DeviceNic[] = template.nics.map((nic) => ({ ...nic, script: 'vif-bridge' }));
      const plans = [];
      for (const disk of disks) plans.push(await addDevice('disk', disk, context));
      for (const nic of nics) plans.push(await addDevice('nic', nic, context));
      expect(plans.length).toBeGreaterThan(1);
      for (const plan of plans) {
        for (const root of [plan.libxlPath, plan.frontendPath, plan.backendPath]) {
          expect(goldenSubtree(tree, root).size, root).toBeGreaterThan(5);
        }
        for (const root of [plan.libxlPath, plan.frontendPath]) {
          expect([...(await dump(root))], root).toEqual([...goldenSubtree(tree, root)]);
        }
        expect([...withoutRuntimeKeys(await dump(plan.backendPath), plan.backendPath)], plan.backendPath)
          .toEqual([...withoutRuntimeKeys(goldenSubtree(tree, plan.backendPath), plan.backendPath)]);
      }
      // The intermediate dirs get their permissions from their parents, as with libxl.
      for (const dir of [`/libxl/${domain.domid}/device/vbd`, `/local/domain/${domain.domid}/device/vbd`, `/local/domain/0/backend/vbd/${domain.domid}`]) {
        expect(await store.getPermissions(dir), dir).toEqual(tree.get(dir)!.perms);
      }
    });
  }
});

describe('vtpm, qdisk and cdrom writes', () => {
  const domid = 5;
  beforeAll(async () => {
    await layOutDomain(store, { domid, name: 'w5', uuid: '55555555-0000-0000-0000-000000000005', type: 'hvm', maxMemKb: 1024, targetMemKb: 1024, maxVcpus: 1, onlineVcpus: 1 });
  });
  const context: AddContext = { domid, domainType: 'hvm' };

  it('vtpm: handle, uuid and resume in the backend, handle in the frontend', async () => {
    const plan = await addDevice('vtpm', { devid: 0, backend_domid: 0, uuid: 'AAAAAAAA-0000-0000-0000-000000000001' }, context);
    const libxl = await store.readTree(plan.libxlPath);
    expect(libxl!.children.map((c) => [c.name, c.value])).toEqual([
      ['frontend', '/local/domain/5/device/vtpm/0'], ['backend', '/local/domain/0/backend/vtpm/5/0'],
      ['frontend-id', '5'], ['online', '1'], ['state', '1'],
      ['handle', '0'], ['uuid', 'aaaaaaaa-0000-0000-0000-000000000001'], ['resume', 'False'],
    ]);
    const front = await store.readTree(plan.frontendPath);
    expect(front!.children.map((c) => [c.name, c.value])).toEqual([
      ['backend', '/local/domain/0/backend/vtpm/5/0'], ['backend-id', '0'], ['state', '1'], ['handle', '0'],
    ]);
    expect(await store.getPermissions(`${plan.frontendPath}/handle`)).toEqual([
      { domid: 5, read: false, write: false }, { domid: 0, read: true, write: false },
    ]);
    expect(await store.getPermissions(plan.backendPath)).toEqual([
      { domid: 0, read: false, write: false }, { domid: 5, read: true, write: false },
    ]);
  });

  it('qdisk cdrom: "<format>:<path>" params, no script, no protocol on HVM', async () => {
    const plan = await addDevice('disk', {
      vdev: 'hdc', backend: 'qdisk', format: 'raw', pdev_path: '/srv/xen/cd.iso', is_cdrom: 1, removable: 1,
      readwrite: 0, backend_domid: 0, discard_enable: 'default', trusted: 'default', specification: 'xen',
    }, context);
    expect(plan.devid).toBe(5632);
    expect(plan.backendPath).toBe('/local/domain/0/backend/qdisk/5/5632');
    expect(plan.libxlPath).toBe('/libxl/5/device/vbd/5632');
    const values = Object.fromEntries((await store.readTree(plan.libxlPath))!.children.map((c) => [c.name, c.value]));
    expect(values).toMatchObject({ params: 'aio:/srv/xen/cd.iso', removable: '1', mode: 'r', 'device-type': 'cdrom', type: 'qdisk', 'discard-enable': '0' });
    expect(values.script).toBeUndefined();
    const front = Object.fromEntries((await store.readTree(plan.frontendPath))!.children.map((c) => [c.name, c.value]));
    expect(front.protocol).toBeUndefined();
    expect(front['virtual-device']).toBe('5632');
  });

  it('refuses entries without their defaults', () => {
    expect(() => planDeviceAdd(deviceType('disk').add!, { vdev: 'xvda', backend: 'unknown' }, context)).toThrow(/backend/);
    expect(() => planDeviceAdd(deviceType('disk').add!, { vdev: 'xvda', backend: 'tap' }, context)).toThrow(/blktap/);
    expect(() => planDeviceAdd(deviceType('nic').add!, { devid: -1, mac: '00:16:3e:00:00:01' }, context)).toThrow(/devid/);
    expect(() => planDeviceAdd(deviceType('disk').add!, { vdev: 'bogus', backend: 'phy' }, context)).toThrow(/vdev/);
  });
});

describe('remove', () => {
  it('closing, then destroy removes frontend, backend and /libxl record and their emptied parents', async () => {
    const domid = 7;
    await layOutDomain(store, { domid, name: 'r7', uuid: '77777777-0000-0000-0000-000000000007', type: 'pv', maxMemKb: 1024, targetMemKb: 1024, maxVcpus: 1, onlineVcpus: 1 });
    const context: AddContext = { domid, domainType: 'pv' };
    const plan = await addDevice('nic', { devid: 0, mac: '00:16:3e:00:00:07', bridge: 'xenbr0', nictype: 'vif', script: 'vif-bridge', mtu: 1500 }, context);
    const other = await addDevice('nic', { devid: 1, mac: '00:16:3e:00:00:08', bridge: 'xenbr0', nictype: 'vif', script: 'vif-bridge', mtu: 9000 }, context);
    expect(await store.read(`${other.backendPath}/mtu`)).toBe('9000');

    expect(await store.transaction((tx) => writeDeviceClosing(tx, plan))).toBe('closing');
    expect(await store.readMany([`${plan.backendPath}/online`, `${plan.backendPath}/state`])).toEqual(['0', '5']);
    await store.write(`${plan.backendPath}/state`, '6');
    expect(await store.transaction((tx) => writeDeviceClosing(tx, plan))).toBe('closed');

    await store.transaction((tx) => destroyDeviceNodes(tx, plan));
    for (const path of [plan.frontendPath, plan.backendPath, plan.libxlPath]) expect(await store.read(path)).toBeUndefined();
    // Siblings keep the parents alive.
    expect(await store.list(`/libxl/${domid}/device/vif`)).toEqual(['1']);
    await store.transaction((tx) => destroyDeviceNodes(tx, other));
    expect(await store.read(`/libxl/${domid}/device/vif`)).toBeUndefined();
    expect(await store.read(`/local/domain/0/backend/vif/${domid}`)).toBeUndefined();
    // /libxl/<domid>/device itself is emptied but kept: it has siblings (type, dm-version) above.
    expect(await store.read(`/libxl/${domid}`)).toBe('');
    expect(await store.transaction((tx) => writeDeviceClosing(tx, plan))).toBe('absent');
    await store.transaction((tx) => cleanupPath(tx, '/libxl/7/device/nothing-here'));
  });

  it('one by one where the ops have no batch; a refused emptied ancestor ends the cleanup quietly, a refused own node fails it', async () => {
    const domid = 8;
    await layOutDomain(store, { domid, name: 'r8', uuid: '88888888-0000-0000-0000-000000000008', type: 'pv', maxMemKb: 1024, targetMemKb: 1024, maxVcpus: 1, onlineVcpus: 1 });
    const plan = await addDevice('nic', { devid: 0, mac: '00:16:3e:00:00:09', bridge: 'xenbr0', nictype: 'vif', script: 'vif-bridge', mtu: 1500 }, { domid, domainType: 'pv' });
    const refusing = (tx: XenStoreOps, refused: string): XenStoreWriteOps => ({
      read: (path) => tx.read(path),
      list: (path) => tx.list(path),
      write: (path, value) => tx.write(path, value),
      mkdir: (path) => tx.mkdir(path),
      setPermissions: (path, perms) => tx.setPermissions(path, perms),
      rm: async (path) => {
        if (path === refused) throw Object.assign(new Error(`refused ${path}`), { code: 'EACCES' });
        await tx.rm(path);
      },
    });
    await expect(store.transaction((tx) => destroyDeviceNodes(refusing(tx, plan.backendPath), plan))).rejects.toMatchObject({ code: 'EACCES' });
    expect(await store.read(plan.backendPath)).toBeDefined(); // the transaction did not commit
    const emptiedParent = `/local/domain/0/backend/vif/${domid}`;
    await store.transaction((tx) => destroyDeviceNodes(refusing(tx, emptiedParent), plan));
    for (const path of [plan.frontendPath, plan.backendPath, plan.libxlPath]) expect(await store.read(path)).toBeUndefined();
    expect(await store.list(emptiedParent)).toEqual([]);
    expect(await store.read(`/libxl/${domid}/device/vif`)).toBeUndefined(); // the other paths' parents went as usual
  });
});
