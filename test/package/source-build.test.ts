// The fallback of a host without a matching prebuild (here a musl host,
// LIBC=musl, which node-gyp-build honours): `npm install` builds the addon
// from the package's own binding.gyp and native/ with node-gyp, needing a
// C++ compiler, make, python3 and Node's headers but nothing of Xen, and the
// package then works from that build.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { INSTALL, newProject, ok, pack, root, run, userEnv } from './consumer.js';

/** Node's headers for node-gyp without a download (npm's nodedir, as configured here). */
const nodedir = execFileSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8' }).trim();
const unavailable = !existsSync(join(root, 'dist/lib/index.js')) ? 'dist/ is not built: run `npm run setup`'
  : spawnSync('c++', ['--version']).status !== 0 ? 'no C++ compiler'
  : !existsSync(join(nodedir, 'include/node/node_api.h')) ? `no Node headers in npm's nodedir (${nodedir})`
  : undefined;
if (unavailable) console.warn(`source build: skipped: ${unavailable}`);

describe.skipIf(unavailable !== undefined)(`a host without a matching prebuild${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  const xs = useLocalXenstored();
  const work = mkdtempSync(join(tmpdir(), 'xen-domconfig-source-build-'));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('npm install builds the addon from source, and the package talks to xenstored through it', { timeout: 300_000 }, async () => {
    const { tarball } = await pack(work);
    const app = newProject(join(work, 'app'), { type: 'module' });
    const env = { ...userEnv(), LIBC: 'musl', npm_config_nodedir: nodedir };
    ok(await run('npm', [...INSTALL, tarball], { cwd: app, env }), 'npm install');

    const installed = join(app, 'node_modules/xen-domconfig');
    const chosen = ok(await run(process.execPath, ['-p', `require('node-gyp-build/node-gyp-build.js').path(${JSON.stringify(installed)})`], { cwd: app, env }), 'node-gyp-build');
    expect(chosen.stdout.trim()).toBe(join(installed, 'build/Release/xen_domconfig.node'));

    writeFileSync(join(app, 'use.mjs'), `import { XenStore } from 'xen-domconfig';
const store = XenStore.open({ path: process.argv[2], pipelined: false });
await store.write('/source-build/node', 'built here');
console.log(await store.read('/source-build/node'));
await store.close();
`);
    const used = ok(await run(process.execPath, ['use.mjs', xs.current.socketPath], { cwd: app, env }), 'use.mjs');
    expect(used.stdout.trim()).toBe('built here');
  });
});
