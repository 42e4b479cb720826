// A library user's process: an XenHost left open does not keep Node's event
// loop alive once it is idle (as idle keep-alive sockets of Node's HTTP agents
// do not), and an aborted signal rejects a list as a whole.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenHost } from '../../lib/host.js';
import { packageRoot } from '../../lib/util/package-root.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { createDomain, tempUserdataDir } from './fixture.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  for (const domid of [1, 2]) await createDomain(store, userdata.dir, { domid, name: `guest${domid}`, type: 'pv' });
});
afterAll(async () => {
  await store?.close();
  userdata.remove();
});

/** Runs a module script against the built library; settles when the process exits (killed after 30 s). */
function runScript(source: string): Promise<{ code: number | null; signal: string | null; stdout: string; stderr: string }> {
  const library = join(packageRoot(), 'dist/lib/index.js');
  return new Promise((resolve) => {
    execFile(process.execPath, ['--input-type=module', '-e', `import * as lib from ${JSON.stringify(library)};\n${source}`], {
      env: { ...process.env, SOCKET: xs.current.socketPath, USERDATA: userdata.dir },
      timeout: 30_000,
      killSignal: 'SIGKILL',
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, signal: (error?.signal as string | undefined) ?? null, stdout, stderr });
    });
  });
}

describe('idle connections (finding 10)', () => {
  it.each([
    ['pipelined', 'true'],
    ['libxenstore only', 'false'],
  ])('a process that never closes its XenHost (%s) exits once its work is done', async (_label, pipelined) => {
    const result = await runScript(`
      const host = lib.XenHost.open({ xenstorePath: process.env.SOCKET, userdataDir: process.env.USERDATA, pipelined: ${pipelined} });
      const listed = await host.listDomains({ long: true });
      const one = await host.retrieveDomainConfiguration(1);
      const raw = lib.XenStore.open({ path: process.env.SOCKET });
      await raw.read('/local/domain/1/name');
      console.log(listed.map((entry) => entry.domid).join(','), one.config.c_info.name);
    `);
    expect(result.signal, result.stderr).toBeNull();
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('1,2 guest1\n');
  });
});

describe('an aborted signal (finding 10)', () => {
  it('rejects listDomains, short and long, with an AbortError', async () => {
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    const signal = AbortSignal.abort();
    await expect(host.listDomains({ long: true, signal })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await expect(host.listDomains({ signal })).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    await host.close();
  });

  it('aborted while the list waits for a domain\'s lock, the list rejects with an AbortError', async () => {
    const host = new XenHost({ xenstore: store, userdataDir: userdata.dir });
    const release = await host.templates.lock(2);
    try {
      const controller = new AbortController();
      const listing = host.listDomains({ long: true, signal: controller.signal });
      controller.abort();
      await expect(listing).rejects.toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
    } finally {
      await release();
      await host.close();
    }
  });
});
