// What the hotplug tests on the local xenstored share: a private real xenstored, a XenHost
// on it with a userdata folder of its own, and the fake backend that moves backend states
// as blkback/netback would.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { XenHost, type XenHostOptions } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { startFakeBackend, type FakeBackend } from '../harness/fakebackend.js';
import { useLocalXenstored } from '../harness/xenstored.js';

export interface HotplugRig {
  readonly socketPath: string;
  readonly xenstore: XenStore;
  readonly host: XenHost;
  readonly backend: FakeBackend;
  /** A folder of the rig's own, removed after the tests; the userdata folder is in it. */
  readonly workDir: string;
  readonly userdataDir: string;
}

export interface HotplugRigOptions {
  /** Names the work folder. */
  name: string;
  /**
   * The host's other options, made once the work folder exists. By default no hotplug
   * scripts run: the fake backend plays their part.
   */
  host?: (workDir: string) => Omit<XenHostOptions, 'xenstore' | 'userdataDir'>;
}

/** Sets the rig up before the file's (or block's) tests and takes it down after; read it inside tests. */
export function useHotplugRig(options: HotplugRigOptions): HotplugRig {
  const xs = useLocalXenstored();
  let rig: HotplugRig | undefined;
  beforeAll(async () => {
    const workDir = mkdtempSync(join(tmpdir(), `xen-domconfig-${options.name}-`));
    const userdataDir = join(workDir, 'userdata');
    mkdirSync(userdataDir);
    const xenstore = XenStore.open({ path: xs.current.socketPath });
    const hostOptions = options.host?.(workDir) ?? { runHotplugScripts: false };
    const host = new XenHost({ xenstore, userdataDir, ...hostOptions });
    const backend = await startFakeBackend(xs.current.socketPath);
    rig = { socketPath: xs.current.socketPath, xenstore, host, backend, workDir, userdataDir };
  });
  afterAll(async () => {
    await rig?.backend.stop();
    await rig?.host.close();
    await rig?.xenstore.close();
    if (rig) rmSync(rig.workDir, { recursive: true, force: true });
  });
  const current = (): HotplugRig => {
    if (!rig) throw new Error('the hotplug rig is not set up yet (use it inside a test)');
    return rig;
  };
  return {
    get socketPath() { return current().socketPath; },
    get xenstore() { return current().xenstore; },
    get host() { return current().host; },
    get backend() { return current().backend; },
    get workDir() { return current().workDir; },
    get userdataDir() { return current().userdataDir; },
  };
}
