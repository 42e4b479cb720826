// A malicious guest against retrieve: with exactly the guest's xenstore
// permissions it rewrites, deletes and repoints every node it may touch
// (frontend dirs and their `backend` pointers, data/, control/, …) with
// oversized and odd values, and creates what it may create; every retrieved
// configuration and device report stays the same, and no value it wrote shows
// up in them.
//
// Every socket client of xenstored is privileged (dom0); a real guest
// connection needs a ring page the fake hypervisor cannot share. So the guest
// is emulated by its permissions: each of its requests is first checked with
// xenstored's own rules (tools/xenstore/xenstored_core.c, 4.17):
//   - perm_for_conn: an unprivileged connection of domain G gets everything on
//     a node G owns (first entry); otherwise the first ACL entry naming G
//     decides; otherwise the first entry's flags (everyone else). Privileged
//     connections (dom0, the toolstack) bypass all of it: on a dom0-owned node
//     the first entry's flags are what every other domain gets.
//   - WRITE / MKDIR of an existing node need write on it; of a missing node,
//     write on the nearest existing ancestor, and every node created on the way
//     inherits that ancestor's perms with G as owner (construct_node).
//   - RM needs write on the node itself (not its parent) and deletes the whole
//     subtree, nodes the guest may not write included (delete_node).
//   - SET_PERMS needs ownership, and the owner may not be changed.
// Then the request is made on the dom0 connection, and ownership of created
// nodes fixed up as xenstored would. The emulated guest is slightly stronger
// than a real one: xenstored refuses unprivileged records of 2048 bytes or
// more (quota_max_entry_size) and more than 1000 nodes per domain, which the
// 4000-byte values here exceed. A confinement check after each round proves
// that nothing outside what the guest may touch was changed.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceNodes, writeDeviceAdd, type DeviceAddPlan } from '../../lib/devices/index.js';
import { XenHost } from '../../lib/host.js';
import { isValidXenStorePath, XENSTORE_PAYLOAD_MAX } from '../../lib/xenstore/protocol.js';
import { XenStore, type XenStoreNode, type XenStorePermission } from '../../lib/xenstore/index.js';
import { startFakeBackend, type FakeBackend } from '../harness/fakebackend.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { completeLibxlLayout, createDomain, entryOf, tempUserdataDir, uuidOf } from './fixture.js';

/** Plain libxl layout: device/ and device/<kind> are dom0's, frontend dirs the guest's. */
const PLAIN = 7;
/** c_info.xend_suspend_evtchn_compat: libxl makes device/ itself guest-owned, so the guest owns device/<kind> too. */
const COMPAT = 8;
/** A bystander whose backends the attackers point at. */
const VICTIM = 9;
const GUESTS = [PLAIN, COMPAT, VICTIM];
const ATTACKERS = [PLAIN, COMPAT];
const ROUNDS = 10;
const SEED = 0x6d616c;

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;
let setupHost: XenHost;
let backend: FakeBackend;
/** The same daemon with batches on libxenstore only (the store itself pipelines them). */
let nativeStore: XenStore;
const reads = newReadLog();
/** Retrieve through the native batch calls, and through the pipelined wire client; both record what they read. */
let nativeHost: XenHost;
let pipeHost: XenHost;

let pristine: Snapshot;
/** Per guest: the nodes it may write in the pristine store (and so delete, and create children under). */
let writable: Map<number, Set<string>>;
let baseline: Retrieved;

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  setupHost = new XenHost({ xenstore: store, userdataDir: userdata.dir, runHotplugScripts: false }); // the fake backend plays the scripts' part
  backend = await startFakeBackend(xs.current.socketPath);

  for (const domid of GUESTS) {
    await createDomain(store, userdata.dir, {
      domid, name: `guest${domid}`, type: 'pv', maxVcpus: 4, onlineVcpus: 2,
      template: (config) => { if (domid === COMPAT) config.c_info.xend_suspend_evtchn_compat = true; },
    });
    await completeLibxlLayout(store, domid, { xendSuspendEvtchnCompat: domid === COMPAT });
  }
  // Devices through the real hotplug path, so keys and permissions are libxl's.
  const disk = (vdev: string) => ({ vdev, pdev_path: `/dev/vg/${vdev}`, backend: 'phy', format: 'raw', readwrite: 1 }) as const;
  for (const domid of GUESTS) {
    await setupHost.addDevice(domid, 'disk', disk('xvda'));
    await setupHost.addDevice(domid, 'nic', { bridge: 'xenbr0' });
  }
  await setupHost.addDevice(PLAIN, 'disk', disk('xvdb'));
  await setupHost.addDevice(PLAIN, 'vtpm', {});
  // Unplugged devices leave stale template entries (libxl never prunes them):
  // the guest must not be able to bring them back by faking nodes.
  for (const domid of ATTACKERS) {
    await setupHost.addDevice(domid, 'disk', disk('xvdc'));
    await setupHost.removeDevice(domid, 'disk', 'xvdc');
  }
  await setupHost.addDevice(PLAIN, 'nic', { bridge: 'xenbr1' });
  await setupHost.removeDevice(PLAIN, 'nic', 1);
  await addPciAndUsb(PLAIN);

  const recorded = recording(store, reads);
  nativeStore = XenStore.open({ path: xs.current.socketPath, pipelined: false });
  nativeHost = new XenHost({ xenstore: recording(nativeStore, reads), userdataDir: userdata.dir });
  pipeHost = new XenHost({ xenstore: recorded, userdataDir: userdata.dir });

  pristine = await snapshot(store);
  writable = new Map(GUESTS.map((domid) => [domid, writableBy(pristine, domid)]));
  baseline = await retrieveEverything();
});

afterAll(async () => {
  await nativeStore?.close();
  await backend?.stop();
  await setupHost?.close();
  await store?.close();
  userdata.remove();
});

describe('what a guest may touch (libxl\'s layout and xenstored\'s rules)', () => {
  const relative = (domid: number) => [...writable.get(domid)!].map((path) => path.replace(`/local/domain/${domid}/`, '~/')).sort();
  const frontend = (dir: string, keys: string[]) => [dir, ...keys.map((key) => `${dir}/${key}`)];
  const common = [
    '~/attr', '~/data', '~/drivers', '~/error', '~/feature',
    '~/control/feature-poweroff', '~/control/feature-reboot', '~/control/feature-suspend', '~/control/shutdown', '~/control/sysrq',
    '~/device/suspend/event-channel',
  ];
  const vbd = ['backend', 'backend-id', 'state', 'virtual-device', 'device-type', 'trusted', 'protocol'];
  const vif = ['backend', 'backend-id', 'state', 'handle', 'mac', 'trusted']; // not mtu: read-only to the guest

  it('plain layout: its frontend dirs and their keys, control/<feature>, data/ drivers/ feature/ attr/ error/, the suspend event channel', () => {
    expect(relative(PLAIN)).toEqual([
      ...common,
      ...frontend('~/device/vbd/51712', vbd),
      ...frontend('~/device/vbd/51728', vbd),
      ...frontend('~/device/vif/0', vif),
      ...frontend('~/device/vtpm/0', ['backend', 'backend-id', 'state', 'handle']),
      ...frontend('~/device/pci/0', ['backend', 'backend-id', 'state']),
      ...frontend('~/device/vusb/0', ['backend', 'backend-id', 'state']),
    ].sort());
    expect(relative(VICTIM)).toEqual([...common, ...frontend('~/device/vbd/51712', vbd), ...frontend('~/device/vif/0', vif)].sort());
  });

  it('xend_suspend_evtchn_compat: all of device/ but the read-only mtu as well', () => {
    const device = [...pristine.keys()].filter((path) => path === `/local/domain/${COMPAT}/device` || path.startsWith(`/local/domain/${COMPAT}/device/`));
    expect(device).toContain(`/local/domain/${COMPAT}/device/vbd`);
    expect(relative(COMPAT)).toEqual([
      ...common.filter((path) => !path.startsWith('~/device/')),
      ...device.filter((path) => !path.endsWith('/mtu')).map((path) => path.replace(`/local/domain/${COMPAT}`, '~')),
    ].sort());
  });

  it('never what retrieve reads: name, vm, memory/*, cpu/*/availability, /vm, /libxl, backends, the console', () => {
    // cpu/<i>/availability is written by libxl__build_post (and xl vcpu-set)
    // from dom0 without explicit perms, so it inherits the home dir's roperm:
    // in libxl too the guest cannot change its vCPU count as retrieve sees it.
    const everyWritable = [...writable.values()].flatMap((set) => [...set]);
    for (const domid of GUESTS) {
      const home = `/local/domain/${domid}`;
      for (const path of [`${home}`, `${home}/name`, `${home}/vm`, `${home}/domid`, `${home}/memory/target`, `${home}/memory/static-max`,
        `${home}/cpu`, `${home}/cpu/0`, `${home}/cpu/0/availability`, `${home}/cpu/3/availability`, `${home}/control`, `${home}/console`,
        `${home}/console/backend`, `${home}/store/port`, `${home}/device/vif/0/mtu`, `/libxl/${domid}`]) {
        expect(pristine.has(path), path).toBe(true);
        expect(everyWritable, path).not.toContain(path);
      }
    }
    for (const path of everyWritable) {
      expect(path).toMatch(/^\/local\/domain\/[1-9][0-9]*\/(?!name$|vm$|memory|cpu|console|store)/);
    }
  });
});

describe('a malicious guest', () => {
  it('retrieve and list read no node a guest may write, delete or create, and list no dir whose children a guest may change', async () => {
    reads.clear();
    await retrieveEverything();
    expect(reads.values).toContain(`/local/domain/${PLAIN}/cpu/3/availability`);
    expect(reads.values).toContain(`/local/domain/0/backend/pci/${PLAIN}/0/dev-0`);
    expect(reads.lists).toContain(`/libxl/${PLAIN}/device/vbd`);
    expect(reads.trees).toContain(`/local/domain/0/backend/vusb/${PLAIN}/0/port`);
    const problems: string[] = [];
    const all = [...writable.values()].flatMap((set) => [...set]);
    const guestMay = (path: string) => GUESTS.some((domid) => inRegion(path, writable.get(domid)!));
    for (const path of reads.values) if (guestMay(path)) problems.push(`read ${path}`);
    for (const path of reads.lists) {
      if (guestMay(path) || all.some((node) => parentOf(node) === path)) problems.push(`listed ${path}`);
    }
    for (const path of reads.trees) {
      if (guestMay(path) || all.some((node) => node.startsWith(`${path}/`))) problems.push(`read the tree ${path}`);
    }
    expect(problems).toEqual([]);
  });

  it('rewriting, deleting and repointing everything it may touch, round after round, changes no retrieved config or device report', async () => {
    // The baseline is the configuration it should be.
    const byDomid = new Map(baseline.native.map((r) => [r.domid, r]));
    const vdevs = (domid: number) => byDomid.get(domid)!.config.disks.map((d) => d.vdev);
    expect(vdevs(PLAIN)).toEqual(['xvda', 'xvdb']);
    expect(vdevs(COMPAT)).toEqual(['xvda']);
    expect(byDomid.get(PLAIN)!.config.nics.map((n) => n.devid)).toEqual([0]);
    expect(byDomid.get(PLAIN)!.config.vtpms).toHaveLength(1);
    expect(byDomid.get(PLAIN)!.config.pcidevs.map((p) => [p.bus, p.func])).toEqual([[3, 1]]);
    expect(byDomid.get(PLAIN)!.config.usbctrls.map((c) => c.devid)).toEqual([0]);
    expect(byDomid.get(PLAIN)!.config.usbdevs.map((d) => [d.ctrl, d.port])).toEqual([[0, 1]]);
    expect(byDomid.get(PLAIN)!.config.b_info.avail_vcpus).toEqual([0, 1]);
    expect(byDomid.get(PLAIN)!.devices.onlyInTemplate.map((d) => [d.kind, d.key])).toEqual([['disk', 'xvdc'], ['nic', '1']]);
    expect(byDomid.get(COMPAT)!.devices.onlyInTemplate.map((d) => [d.kind, d.key])).toEqual([['disk', 'xvdc']]);
    for (const result of baseline.native) {
      expect(result.devices.onlyInXenstore).toEqual([]);
      expect(result.devices.problems).toEqual([]);
    }
    const beforeText = textOf(baseline);

    let round = 0;
    await fc.assert(fc.asyncProperty(roundPlan, async (plan) => {
      round++;
      try {
        const guests = ATTACKERS.map((domid) => new Guest(domid, round));
        for (const guest of guests) await attack(guest, plan);
        // Each guest did something, and was refused what libxl does not let it do.
        for (const guest of guests) {
          expect(guest.done.length).toBeGreaterThan(writable.get(guest.domid)!.size);
          expect(guest.allowedForbidden).toEqual([]);
        }
        const attacked = await snapshot(store);
        expect(confinementBreaches(attacked)).toEqual([]);

        const after = await retrieveEverything();
        // No value the guests can write appears in any result (unless it was
        // there before the attack, like the MAC a frontend repeats).
        const afterText = textOf(after);
        const leaked: string[] = [];
        for (const [path, node] of attacked) {
          if (!ATTACKERS.some((domid) => inRegion(path, writable.get(domid)!))) continue;
          for (const piece of node.value.toString('utf8').split('\0')) {
            if (piece.length >= 8 && !beforeText.includes(piece) && afterText.includes(piece)) leaked.push(`${path}: ${piece.slice(0, 60)}`);
          }
        }
        expect(leaked).toEqual([]);
        expect(after).toEqual(baseline);
      } finally {
        await restore();
      }
    }), { numRuns: ROUNDS, seed: SEED, endOnFailure: true });
    expect(round).toBe(ROUNDS);
  });
});

/**
 * A pci device and a pv usb controller with a usb device on port 1, which
 * retrieve reads from dom0's backend dirs: written as libxl's
 * libxl__create_pci_backend and libxl__device_usbctrl_add_xenstore do
 * (through libxl__device_generic_add), their template entries added.
 */
async function addPciAndUsb(domid: number): Promise<void> {
  const plan = (kind: string, backendKeys: [string, string][]): DeviceAddPlan => ({
    ...deviceNodes(domid, kind, 0, kind, 0),
    backend: [['frontend-id', String(domid)], ['online', '1'], ['state', '1'], ...backendKeys],
    frontend: [['backend-id', '0'], ['state', '1']],
    readOnlyFrontend: [],
    frontendPermissions: [{ domid, read: false, write: false }, { domid: 0, read: true, write: false }],
    backendPermissions: [{ domid: 0, read: false, write: false }, { domid, read: true, write: false }],
  });
  const bdf = '0000:03:00.1';
  const plans = [
    plan('pci', [['domain', `guest${domid}`], ['num_devs', '1'], ['key-0', bdf], ['dev-0', bdf],
      ['opts-0', 'msitranslate=0,power_mgmt=0,permissive=0,rdm_policy=strict'], ['state-0', '1']]),
    plan('vusb', [['type', 'pv'], ['usb-ver', '2'], ['num-ports', '8'], ['port/1', '1-1'], ['port/2', '']]),
  ];
  await store.transaction(async (tx) => { for (const each of plans) await writeDeviceAdd(tx, each); });
  // The fake backend moves them to InitWait; wait, so the pristine store is settled.
  for (const each of plans) {
    for (let i = 0; (await store.read(`${each.backendPath}/state`)) !== '2'; i++) {
      if (i > 500) throw new Error(`${each.backendPath} did not reach InitWait`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
  const config = await setupHost.templates.read(domid);
  config.pcidevs = [entryOf('pci', { domain: 0, bus: 3, dev: 0, func: 1 })];
  config.usbctrls = [entryOf('usbctrl', { devid: 0, type: 'pv', version: 2, ports: 8 })];
  config.usbdevs = [entryOf('usbdev', { ctrl: 0, port: 1, type: 'hostdev', u: { hostbus: 1, hostaddr: 1 } })];
  await setupHost.templates.write(domid, config, { uuid: uuidOf(domid) });
}

// ---------------------------------------------------------------------------
// Retrieving everything, every way

interface Retrieved {
  native: Awaited<ReturnType<XenHost['retrieveDomainConfiguration']>>[];
  snapshot: unknown[];
  pipelined: unknown[];
  diff: unknown[];
  lists: unknown[];
}

async function retrieveEverything(): Promise<Retrieved> {
  const each = <T>(fn: (domid: number) => Promise<T>) => Promise.all(GUESTS.map(fn));
  const listed = (entries: readonly object[]) => entries.map((entry) => {
    if (!('error' in entry)) return entry;
    const { domid, error } = entry as { domid: number; error: Error & { code?: string } };
    return { domid, error: { name: error.name, code: error.code, message: error.message } };
  });
  return {
    native: await each((domid) => nativeHost.retrieveDomainConfiguration(domid)),
    snapshot: await each((domid) => nativeHost.retrieveDomainConfiguration(domid, { snapshot: true })),
    pipelined: await each((domid) => pipeHost.retrieveDomainConfiguration(domid)),
    diff: await each((domid) => nativeHost.diffDomainConfiguration(domid)),
    lists: [
      listed(await nativeHost.listDomains({ long: true })),
      listed(await pipeHost.listDomains({ long: true, snapshot: true })),
      listed(await nativeHost.listDomains()),
      listed(await pipeHost.listDomains()),
    ],
  };
}

/** Every string, number and key in a result, one per line. */
function textOf(value: unknown): string {
  const out: string[] = [];
  const walk = (item: unknown): void => {
    if (item === null || item === undefined) return;
    if (typeof item === 'object') {
      for (const [key, child] of Object.entries(item)) {
        out.push(key);
        walk(child);
      }
    } else {
      out.push(String(item));
    }
  };
  walk(value);
  return out.join('\n');
}

// ---------------------------------------------------------------------------
// Recording what retrieve reads

interface ReadLog {
  values: Set<string>;
  lists: Set<string>;
  trees: Set<string>;
  clear(): void;
}

function newReadLog(): ReadLog {
  const log: ReadLog = {
    values: new Set(), lists: new Set(), trees: new Set(),
    clear() { log.values.clear(); log.lists.clear(); log.trees.clear(); },
  };
  return log;
}

/** The object with its read requests logged (transactions' too); everything else passes through. */
function recording<T extends object>(target: T, log: ReadLog): T {
  return new Proxy(target, {
    get(object, property) {
      const member: unknown = Reflect.get(object, property, object);
      if (typeof member !== 'function') return member;
      const call = (...args: unknown[]) => (member as (...a: unknown[]) => unknown).apply(object, args);
      switch (property) {
        case 'read': case 'readSync': case 'readBuffer': case 'readBufferSync': case 'getPermissions': case 'getPermissionsSync':
          return (path: string, ...rest: unknown[]) => { log.values.add(path); return call(path, ...rest); };
        case 'readMany': case 'readManySync':
          return (paths: string[], ...rest: unknown[]) => { paths.forEach((path) => log.values.add(path)); return call(paths, ...rest); };
        case 'list': case 'listSync': case 'directory':
          return (path: string, ...rest: unknown[]) => { log.lists.add(path); return call(path, ...rest); };
        case 'readTree': case 'readTreeSync':
          return (path: string, ...rest: unknown[]) => { log.trees.add(path); return call(path, ...rest); };
        case 'transaction':
          return (fn: (tx: object) => unknown, ...rest: unknown[]) => call((tx: object) => fn(recording(tx, log)), ...rest);
        default:
          return call.bind(null);
      }
    },
  });
}

// ---------------------------------------------------------------------------
// The whole store, and xenstored's permission rules

interface StoredNode {
  value: Buffer;
  perms: XenStorePermission[];
}
/** Path → node, parents before children. */
type Snapshot = Map<string, StoredNode>;

async function snapshot(xenstore: XenStore): Promise<Snapshot> {
  const paths: string[] = [];
  const walk = (node: XenStoreNode, path: string) => {
    paths.push(path);
    for (const child of node.children) walk(child, path === '/' ? `/${child.name}` : `${path}/${child.name}`);
  };
  walk((await xenstore.readTree('/'))!, '/');
  const nodes = await Promise.all(paths.map(async (path) => ({
    value: (await xenstore.readBuffer(path))!,
    perms: await xenstore.getPermissions(path),
  })));
  return new Map(paths.map((path, i) => [path, nodes[i]!]));
}

/** perm_for_conn for an unprivileged connection of `domid` (no device-model target). */
function guestAccess(domid: number, perms: readonly XenStorePermission[]): { read: boolean; write: boolean; owner: boolean } {
  const [first, ...acl] = perms;
  if (first!.domid === domid) return { read: true, write: true, owner: true };
  const entry = acl.find((perm) => perm.domid === domid) ?? first!;
  return { read: entry.read, write: entry.write, owner: false };
}

function writableBy(nodes: Snapshot, domid: number): Set<string> {
  return new Set([...nodes].filter(([, node]) => guestAccess(domid, node.perms).write).map(([path]) => path));
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

/**
 * Whether the guest can change `path` (its value, its existence, its
 * children): the path or one of its ancestors is writable by it. Creating a
 * node needs write on the nearest existing ancestor; deleting one needs write
 * on it or on an ancestor being deleted.
 */
function inRegion(path: string, writableNodes: ReadonlySet<string>): boolean {
  for (let at = path; ; at = parentOf(at)) {
    if (writableNodes.has(at)) return true;
    if (at === '/') return false;
  }
}

/** Nodes outside every attacker's region that differ from the pristine store. */
function confinementBreaches(now: Snapshot): string[] {
  const outside = (path: string) => !ATTACKERS.some((domid) => inRegion(path, writable.get(domid)!));
  const breaches: string[] = [];
  for (const [path, node] of pristine) {
    if (!outside(path)) continue;
    const current = now.get(path);
    if (!current) breaches.push(`${path} deleted`);
    else if (!current.value.equals(node.value) || JSON.stringify(current.perms) !== JSON.stringify(node.perms)) breaches.push(`${path} changed`);
  }
  for (const path of now.keys()) if (outside(path) && !pristine.has(path)) breaches.push(`${path} created`);
  return breaches;
}

/** Puts back every region root's pristine subtree (values and perms) and checks the store is pristine again. */
async function restore(): Promise<void> {
  const regions = new Set<string>();
  for (const domid of ATTACKERS) {
    const nodes = writable.get(domid)!;
    for (const path of nodes) if (!inRegion(parentOf(path), nodes)) regions.add(path);
  }
  await store.transaction(async (tx) => {
    for (const root of regions) {
      await tx.rm(root).catch((error: { code?: string }) => { if (error.code !== 'ENOENT') throw error; });
      for (const [path, node] of pristine) {
        if (path !== root && !path.startsWith(`${root}/`)) continue;
        await tx.write(path, node.value);
        await tx.setPermissions(path, node.perms);
      }
    }
  });
  const now = await snapshot(store);
  const differences = [...new Set([...pristine.keys(), ...now.keys()])].filter((path) => {
    const [a, b] = [pristine.get(path), now.get(path)];
    return !a || !b || !a.value.equals(b.value) || JSON.stringify(a.perms) !== JSON.stringify(b.perms);
  });
  expect(differences).toEqual([]);
}

// ---------------------------------------------------------------------------
// The guest

/** One guest's requests, each checked against xenstored's rules before it is made on the dom0 connection. */
class Guest {
  /** Requests xenstored would have carried out. */
  readonly done: string[] = [];
  /** Requests for nodes libxl keeps from the guest that the rules let through (must stay empty). */
  readonly allowedForbidden: string[] = [];
  #counter = 0;

  constructor(readonly domid: number, readonly round: number) {}

  get home(): string {
    return `/local/domain/${this.domid}`;
  }

  /** A unique tag, to find the value again in results. */
  marker(): string {
    return `G${this.domid}R${this.round}N${this.#counter++}Z`;
  }

  // Synchronous requests: one round trip each, without the thread-pool hop.
  #perms(path: string): XenStorePermission[] | undefined {
    try {
      return store.getPermissionsSync(path);
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  /** WRITE (or MKDIR with `value` undefined); false when xenstored refuses it. */
  async write(path: string, value: string | Buffer | undefined): Promise<boolean> {
    if (!isValidXenStorePath(path)) return false; // EINVAL
    const bytes = value === undefined ? 0 : Buffer.byteLength(value);
    if (path.length + 1 + bytes > XENSTORE_PAYLOAD_MAX) return false; // E2BIG
    const missing: string[] = [];
    let at = path;
    let perms = this.#perms(at);
    while (!perms) {
      missing.unshift(at);
      at = parentOf(at);
      perms = this.#perms(at);
    }
    if (!guestAccess(this.domid, perms).write) return false; // EACCES
    if (value === undefined) store.mkdirSync(path);
    else store.writeSync(path, value);
    // construct_node: created nodes inherit the ancestor's perms, owned by the guest.
    const inherited = [{ ...perms[0]!, domid: this.domid }, ...perms.slice(1)];
    for (const created of missing) store.setPermissionsSync(created, inherited);
    this.done.push(`write ${path}`);
    return true;
  }

  async rm(path: string): Promise<boolean> {
    const perms = this.#perms(path);
    if (!perms || !guestAccess(this.domid, perms).write) return false;
    store.rmSync(path);
    this.done.push(`rm ${path}`);
    return true;
  }

  async setPermissions(path: string, perms: XenStorePermission[]): Promise<boolean> {
    const current = this.#perms(path);
    if (!current || !guestAccess(this.domid, current).owner) return false; // EACCES
    if (perms[0]!.domid !== current[0]!.domid || perms.length > 5) return false; // EPERM, ENOSPC
    store.setPermissionsSync(path, perms);
    this.done.push(`set_perms ${path}`);
    return true;
  }

  /** A request libxl's layout forbids: it must be refused. */
  async forbidden(request: Promise<boolean>, what: string): Promise<void> {
    if (await request) this.allowedForbidden.push(what);
  }
}

// ---------------------------------------------------------------------------
// The attack

type Hostile =
  | { kind: 'long'; length: number }
  | { kind: 'nul' }
  | { kind: 'literal'; text: string }
  | { kind: 'pointer'; index: number }
  | { kind: 'bytes'; bytes: Uint8Array }
  | { kind: 'text'; text: string };

const LITERALS = [
  '', ' ', '-1', '-0', '-2147483648', '4294967296', '18446744073709551616', '9'.repeat(40), '0x10', '1e3', ' 1', '1 ', '+1',
  'online', 'Online', 'offline', '0', '1', '2', '4', '5', '6', 'connected', 'w', 'r', 'cdrom', 'disk', 'phy', 'qdisk', 'xvdz',
  'vif_ioemu', 'qemu_xen', 'True', '{"disks":[]}', '%s%n', '../../..', '/', '//', '\t\n\r', '\u00ff\u00fe', '\ud83d\ude08',
];

const hostile: fc.Arbitrary<Hostile> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('long' as const), length: fc.oneof(fc.constant(4000), fc.integer({ min: 1, max: 4096 })) }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'nul' as const }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('literal' as const), text: fc.constantFrom(...LITERALS) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('pointer' as const), index: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('bytes' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 512 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('text' as const), text: fc.string({ unit: 'grapheme', maxLength: 64 }) }) },
);

const childName = fc.oneof(
  fc.constantFrom('backend', 'frontend', 'state', 'online', 'dev', 'params', 'removable', 'handle', 'mode', 'type', 'availability',
    'vbd', 'vif', 'device', '51744', '1', '0', '-1', '@', '_', '-', 'n'.repeat(200),
    'name', 'vm', 'uuid', 'domid', 'memory', 'target', 'static-max', 'cpu', 'libxl', 'dm-version', 'num_devs', 'dev-0', 'port'),
  fc.stringMatching(/^[A-Za-z0-9_@-]{1,40}$/),
);

type Action = 'rm' | 'children' | 'perms' | 'repoint' | 'nothing';

const PLAN_LENGTH = 48;
const roundPlan = fc.record({
  values: fc.array(hostile, { minLength: PLAN_LENGTH, maxLength: PLAN_LENGTH }),
  actions: fc.array(fc.constantFrom<Action>('rm', 'children', 'children', 'perms', 'repoint', 'nothing'), { minLength: PLAN_LENGTH, maxLength: PLAN_LENGTH }),
  names: fc.array(childName, { minLength: 16, maxLength: 16 }),
  rotate: fc.nat(),
  flood: fc.integer({ min: 1, max: 64 }),
});
type RoundPlan = typeof roundPlan extends fc.Arbitrary<infer T> ? T : never;

/** Where a repointed `backend` may lead: other domains' backends and frontends, /libxl, stale devices, nonsense. */
function pointerTargets(domid: number): string[] {
  const other = domid === PLAIN ? COMPAT : PLAIN;
  return [
    `/local/domain/0/backend/vbd/${VICTIM}/51712`, `/local/domain/0/backend/vif/${VICTIM}/0`, `/local/domain/0/backend/vbd/${other}/51712`,
    `/local/domain/0/backend/vbd/${domid}/51744`, `/local/domain/0/backend/vif/${domid}/1`, `/local/domain/0/backend/vbd/${domid}/51728`,
    `/local/domain/0/backend/vtpm/${domid}/0`, `/local/domain/0/backend/vif/${domid}/0`, `/local/domain/0/backend/qdisk/${domid}/51712`,
    `/local/domain/${VICTIM}/backend/vbd/${domid}/51712`, `/local/domain/${domid}/backend/vbd/${domid}/51712`,
    `/libxl/${domid}/device/vbd/51712`, `/libxl/${VICTIM}/device/vif/0`, `/libxl/${domid}`, `/local/domain/${VICTIM}/device/vbd/51712`,
    `/local/domain/0/backend/vbd/${domid}/51712/../../../${VICTIM}/51712`, `/local/domain/0/backend/vbd/${domid}/99999999999`,
    `/local/domain/0/backend/vbd/${domid}/-1`, `/local/domain/00/backend/vbd/${domid}/51712`, `/local/domain/0/backend/vbd/${domid}/51712/`,
    `/local/domain/${domid}/data`, '/', '',
  ];
}

function materialize(guest: Guest, value: Hostile, path: string): string | Buffer {
  const room = XENSTORE_PAYLOAD_MAX - 1 - path.length;
  switch (value.kind) {
    case 'long': {
      const marker = guest.marker();
      return (marker + 'A'.repeat(Math.max(0, value.length - marker.length))).slice(0, Math.max(marker.length, Math.min(value.length, room)));
    }
    case 'nul':
      return Buffer.from(`${guest.marker()}\0online\0\0/local/domain/0/backend/vbd/${VICTIM}/51712\0xvda`);
    case 'literal':
      return value.text;
    case 'pointer': {
      const targets = pointerTargets(guest.domid);
      return targets[value.index % targets.length]!;
    }
    case 'bytes':
      return Buffer.from(value.bytes);
    case 'text':
      return `${guest.marker()}${value.text}`;
  }
}

function hostilePerms(domid: number): XenStorePermission[][] {
  return [
    [{ domid, read: true, write: true }], // everyone may read and write
    [{ domid, read: false, write: false }, { domid: 0, read: false, write: false }], // "locks dom0 out" (dom0 is privileged)
    [{ domid, read: false, write: false }, { domid: VICTIM, read: true, write: true }], // hands the node to another guest
    [{ domid, read: true, write: false }, { domid: 0, read: false, write: true }, { domid: VICTIM, read: true, write: false }, { domid: 1234, read: true, write: true }],
  ];
}

/** Fake device records, complete with the keys a /libxl record has. */
function fakeDeviceKeys(domid: number, kind: string, devid: string): [string, string][] {
  return [
    ['backend', `/local/domain/0/backend/${kind}/${domid}/${devid}`], ['frontend', `/local/domain/${domid}/device/${kind}/${devid}`],
    ['backend-id', '0'], ['state', '4'], ['online', '1'], ['dev', 'xvdc'], ['removable', '1'], ['params', ''], ['mode', 'w'],
    ['type', 'phy'], ['device-type', 'cdrom'], ['handle', devid], ['virtual-device', devid], ['num_devs', '1'], ['dev-0', '0000:03:00.1'],
  ];
}

async function attack(guest: Guest, plan: RoundPlan): Promise<void> {
  const { domid, home } = guest;
  const pick = <T>(items: readonly T[], i: number): T => items[(i + plan.rotate) % items.length]!;
  const nodes = [...writable.get(domid)!];
  const order = nodes.map((_, i) => nodes[(i + plan.rotate) % nodes.length]!);

  // 1. Rewrite every node it may write; `backend` pointers are repointed.
  for (const [i, path] of order.entries()) {
    const value = path.endsWith('/backend') ? { kind: 'pointer' as const, index: i + plan.rotate } : pick(plan.values, i);
    expect(await guest.write(path, materialize(guest, value, path)), path).toBe(true);
  }

  // 2. Delete some, grow children under others, change their perms, plant backend pointers.
  for (const [i, path] of order.entries()) {
    switch (pick(plan.actions, i)) {
      case 'rm':
        await guest.rm(path);
        break;
      case 'children': {
        const name = pick(plan.names, i);
        await guest.write(`${path}/${name}`, materialize(guest, pick(plan.values, i + 1), `${path}/${name}`));
        await guest.write(`${path}/${pick(plan.names, i + 1)}/backend`, materialize(guest, { kind: 'pointer', index: i }, path));
        await guest.write(`${path}/${name}/${pick(plan.names, i + 2)}/state`, '4');
        await guest.write(`${path}/device/vbd/51744/dev`, 'xvdc');
        await guest.write(`${path}/${name}-dir`, undefined);
        break;
      }
      case 'perms':
        await guest.setPermissions(path, pick(hostilePerms(domid), i));
        break;
      case 'repoint':
        await guest.write(`${path}/backend`, materialize(guest, { kind: 'pointer', index: i * 7 }, `${path}/backend`));
        break;
      case 'nothing':
        break;
    }
  }

  // 3. Fake devices, in a stale template entry's place (xvdc = 51744, nic 1)
  //    and elsewhere, for every kind retrieve knows. Only a guest owning
  //    device/ (xend_suspend_evtchn_compat) gets them written.
  //    A few kinds a round (the first round takes vbd and vif).
  const deviceDirWritable = writable.get(domid)!.has(`${home}/device`);
  const kinds = ['vbd', 'vif', 'virtio_disk', 'vtpm', 'vusb', 'pci', 'vdispl', 'vsnd', 'console'];
  for (const kind of [0, 1, 2].map((i) => kinds[(guest.round * 3 - 3 + i) % kinds.length]!)) {
    for (const devid of ['51744', '1', pick(['2', '99999', '4294967296'], 0)]) {
      for (const [key, value] of fakeDeviceKeys(domid, kind, devid)) {
        const path = `${home}/device/${kind}/${devid}/${key}`;
        if (deviceDirWritable) await guest.write(path, value);
        else await guest.forbidden(guest.write(path, value), path);
      }
    }
  }

  // 4. Shadow copies of the nodes libxl keeps from it, at the same relative
  //    paths inside a dir it owns (data/ every other round, else any by rotation):
  //    its home's name, vm, memory/*, cpu/*/availability…, and its /libxl record.
  const shadowed = [...pristine.keys()].filter((path) => (path.startsWith(`${home}/`) || path.startsWith(`/libxl/${domid}/`)) && !inRegion(path, writable.get(domid)!));
  for (const dir of [guest.round % 2 === 1 ? `${home}/data` : pick(nodes, 0)]) {
    for (const [i, path] of shadowed.entries()) {
      const copy = `${dir}/${path.startsWith(home) ? path.slice(home.length + 1) : path.slice(1)}`;
      await guest.write(copy, path.endsWith('/availability') ? 'online' : materialize(guest, pick(plan.values, i), copy));
    }
  }

  // 5. An "online" flood in a dir it owns; vCPUs and every other node retrieve reads stay out of reach.
  const floodDir = pick(nodes.filter((path) => /\/(data|feature|attr|device\/vbd\/51712)$/.test(path)), 0);
  for (let i = 0; i < plan.flood; i++) await guest.write(`${floodDir}/cpu/${i}/availability`, 'online');
  for (let i = 0; i < 8; i++) await guest.forbidden(guest.write(`${home}/cpu/${i}/availability`, 'online'), `cpu/${i}/availability`);
  const forbidden = [
    `${home}/name`, `${home}/vm`, `${home}/memory/target`, `${home}/memory/static-max`, `${home}/cpu/0`, `${home}/cpu`, `${home}/domid`,
    `${home}/control`, `${home}/console/backend`, `${home}/console`, `${home}/newdir`,
    `/libxl/${domid}/device/vbd/51712/dev`, `/libxl/${domid}/device/vbd/51744/dev`, `/libxl/${domid}/dm-version`, `/libxl/${domid}/device`,
    `/local/domain/0/backend/vbd/${domid}/51712/params`, `/local/domain/0/backend/vbd/${domid}/51712`, `/local/domain/0/backend/pci/${domid}/0/num_devs`,
    `/local/domain/0/backend/vusb/${domid}/0/port/1`, `/vm/${String(domid).padStart(8, '0')}-1111-2222-3333-444444444444/name`,
    `/local/domain/${VICTIM}/device/vbd/51712/backend`, `/local/domain/${VICTIM}/data`, `/local/domain/${domid === PLAIN ? COMPAT : PLAIN}/device`,
  ];
  // (A guest owning device/ may delete a frontend dir and so recreate its read-only mtu.)
  if (!deviceDirWritable) forbidden.push(`${home}/device`, `${home}/device/vbd`, `${home}/device/vbd/51744`, `${home}/device/vif/0/mtu`);
  for (const path of forbidden) {
    const marker = guest.marker();
    await guest.forbidden(guest.write(path, marker), `write ${path}`);
    await guest.forbidden(guest.write(`${path}/${marker}`, marker), `create under ${path}`);
    await guest.forbidden(guest.rm(path), `rm ${path}`);
    await guest.forbidden(guest.setPermissions(path, [{ domid, read: true, write: true }]), `set_perms ${path}`);
  }
}
