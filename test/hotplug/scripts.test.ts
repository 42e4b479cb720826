// The hotplug scripts run for dom0's vbd and vif backends, as libxl runs them
// (libxl_linux.c): after InitWait on add, after Closed on remove, with
// libxl's arguments and environment. Stub scripts in a temp dir log each run.
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createGuest, xenstoreDevices } from './guest.js';
import { useHotplugRig } from './rig.js';

/** The stub scripts' folder, in the rig's work folder. */
const scriptsIn = (workDir: string): string => join(workDir, 'scripts');

const rig = useHotplugRig({
  name: 'scripts',
  host: (workDir) => {
    mkdirSync(scriptsIn(workDir));
    for (const name of ['block', 'vif-bridge']) stub(workDir, name);
    return { scriptDir: scriptsIn(workDir) };
  },
});
let nextDomid = 1;

/** A script that logs `<name> <args> | <env…>` and exits with $STUB_EXIT_<name> (0 by default). */
function stub(workDir: string, name: string): void {
  const path = join(scriptsIn(workDir), name);
  const variable = `STUB_EXIT_${name.replace(/-/g, '_')}`;
  writeFileSync(path, [
    '#!/bin/sh',
    `echo "${name} $* | script=$script XENBUS_TYPE=$XENBUS_TYPE XENBUS_PATH=$XENBUS_PATH XENBUS_BASE_PATH=$XENBUS_BASE_PATH vif=$vif netdev=$netdev XENSTORED_PATH=$XENSTORED_PATH" >> "${join(workDir, 'log')}"`,
    `status=\${${variable}:-0}`,
    '[ "$status" = 0 ] || { xenstore-write "$XENBUS_PATH/hotplug-error" "stub failed on purpose"; echo "stub stderr" >&2; }',
    'exit "$status"',
    '',
  ].join('\n'));
  chmodSync(path, 0o755);
}

/** Runs fn with this block script, then puts the logging stub back. */
async function withBlockScript(script: string, fn: () => Promise<void>): Promise<void> {
  writeFileSync(join(scriptsIn(rig.workDir), 'block'), script);
  try {
    await fn();
  } finally {
    stub(rig.workDir, 'block');
  }
}

/** Runs fn with a block script that never finishes, then puts the logging stub back. */
const withHangingBlockScript = (fn: () => Promise<void>) => withBlockScript('#!/bin/sh\nexec sleep 30\n', fn);

const log = (): string[] => readFileSync(join(rig.workDir, 'log'), 'utf8').trim().split('\n');

beforeEach(() => {
  writeFileSync(join(rig.workDir, 'log'), '');
  delete process.env.STUB_EXIT_block;
  delete process.env.STUB_EXIT_vif_bridge;
});

async function guest(): Promise<number> {
  const domid = nextDomid++;
  await createGuest(rig.xenstore, rig.host.templates, domid);
  return domid;
}

describe('hotplug scripts', () => {
  it('runs block add and remove with libxl\'s arguments and environment, on the same xenstored', async () => {
    const domid = await guest();
    await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdb', backend: 'phy', format: 'raw', readwrite: 1 });
    const env = `script=${scriptsIn(rig.workDir)}/block XENBUS_TYPE=vbd XENBUS_PATH=backend/vbd/${domid}/51728 XENBUS_BASE_PATH=backend vif= netdev= XENSTORED_PATH=${rig.socketPath}`;
    expect(log()).toEqual([`block add | ${env}`]);
    await rig.host.removeDevice(domid, 'disk', 'xvdb');
    expect(log()).toEqual([`block add | ${env}`, `block remove | ${env}`]);
  });

  it('runs vif-bridge online and offline with type_if=vif, the interface name and the gateway device', async () => {
    const domid = await guest();
    const added = await rig.host.addDevice(domid, 'nic', { bridge: 'xenbr0' });
    const env = `script=${scriptsIn(rig.workDir)}/vif-bridge XENBUS_TYPE=vif XENBUS_PATH=backend/vif/${domid}/${added.devid} XENBUS_BASE_PATH=backend vif=vif${domid}.${added.devid} netdev= XENSTORED_PATH=${rig.socketPath}`;
    expect(log()).toEqual([`vif-bridge online type_if=vif | ${env}`]);
    await rig.host.removeDevice(domid, 'nic', added.devid);
    expect(log()).toEqual([`vif-bridge online type_if=vif | ${env}`, `vif-bridge offline type_if=vif | ${env}`]);
  });

  it('a failing add script is EHOTPLUG with its exit code, hotplug-error and output; both views keep the device', async () => {
    const domid = await guest();
    process.env.STUB_EXIT_block = '3';
    const failure = await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdc', backend: 'phy', format: 'raw' })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ name: 'HotplugError', code: 'EHOTPLUG', details: { committed: true } });
    expect((failure as Error).message).toMatch(/block add exited 3: stub failed on purpose; stub stderr/);
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual(['vbd/51744']);
    expect((await rig.host.templates.read(domid)).disks.map((disk) => disk.vdev)).toEqual(['xvdc']);
  });

  it('a failing remove script is reported after the nodes are removed, as libxl does', async () => {
    const domid = await guest();
    await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdd', backend: 'phy', format: 'raw' });
    process.env.STUB_EXIT_block = '1';
    await expect(rig.host.removeDevice(domid, 'disk', 'xvdd')).rejects.toMatchObject({ code: 'EHOTPLUG' });
    expect(await xenstoreDevices(rig.xenstore, domid)).toEqual([]);
  });

  it('aborting during the script kills it and says the device was added', async () => {
    const domid = await guest();
    await withHangingBlockScript(async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 200);
      await expect(rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdf', backend: 'phy', format: 'raw' }, { signal: controller.signal }))
        .rejects.toMatchObject({ code: 'ABORT_ERR', details: { committed: true } });
    });
  });

  it('the wait ends at the script\'s exit, not when a helper it left in the background closes its output', async () => {
    const domid = await guest();
    const sleepPid = join(rig.workDir, 'helper-sleep.pid');
    const finished = join(rig.workDir, 'helper-finished');
    // The helper keeps the script's stdout and stderr open for 10 s, then leaves a mark.
    const script = `#!/bin/sh\n(sleep 10 & echo $! > ${sleepPid}; wait; touch ${finished}) &\necho "left a helper"\nexit 0\n`;
    await withBlockScript(script, async () => {
      try {
        const added = await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdg', backend: 'phy', format: 'raw' }, { scriptTimeoutMs: 20_000 });
        expect(added.entry.vdev).toBe('xvdg');
        expect(existsSync(finished)).toBe(false); // done before the helper was
      } finally {
        process.kill(Number(readFileSync(sleepPid, 'utf8')), 'SIGKILL');
      }
    });
  });

  it('a script\'s output is passed through to stderr uncapped, and 2 MB of it do not fail the attach', async () => {
    const domid = await guest();
    let passed = 0;
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string | Uint8Array) => { passed += chunk.length; return true; }) as typeof write;
    try {
      await withBlockScript('#!/bin/sh\nhead -c 2000000 /dev/zero | tr "\\0" x >&2\nexit 0\n', async () => {
        const added = await rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvdh', backend: 'phy', format: 'raw' });
        expect(added.entry.vdev).toBe('xvdh');
      });
    } finally {
      process.stderr.write = write;
    }
    expect(passed).toBe(2_000_000);
  });

  it('a script that does not finish is killed after scriptTimeoutMs', async () => {
    const domid = await guest();
    await withHangingBlockScript(async () => {
      const started = Date.now();
      await expect(rig.host.addDevice(domid, 'disk', { pdev_path: '/dev/vg/data', vdev: 'xvde', backend: 'phy', format: 'raw' }, { scriptTimeoutMs: 200 }))
        .rejects.toThrow(/did not finish within 200 ms/);
      expect(Date.now() - started).toBeLessThan(10_000);
    });
  });
});
