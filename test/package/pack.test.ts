// The npm package as a user gets it: `npm pack` of this checkout (the
// prebuilds and dist/ already built: --ignore-scripts skips prepack's
// rebuild), installed into a fresh project on a PATH where every compiler,
// make and python fail, then used as a library (ESM and CommonJS, against a
// real xenstored), type-checked as a dependency, and run as a command. A
// musl host (LIBC=musl, which node-gyp-build honours) gets no glibc binary:
// its install builds from source, and without a build the loader says what to do.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { INSTALL, newProject, ok, pack, root, run, userEnv, type Packed, type Run } from './consumer.js';

const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version;
const needed = ['prebuilds/linux-x64/xen-domconfig.glibc.node', 'dist/lib/index.js', 'dist/bin/xen-domconfig.js'];
const missing = needed.filter((file) => !existsSync(join(root, file)));
const unavailable = missing.length ? `skipped: ${missing.join(', ')} missing; run \`npm run prebuilds\` first` : undefined;
if (unavailable) console.warn(`npm package: ${unavailable}`);

describe.skipIf(unavailable !== undefined)(`the npm package${unavailable ? ` (${unavailable})` : ''}`, () => {
  const xs = useLocalXenstored();
  const work = mkdtempSync(join(tmpdir(), 'xen-domconfig-pack-'));
  const app = join(work, 'app');
  const installed = join(app, 'node_modules/xen-domconfig');
  let packed: Packed;
  let env: NodeJS.ProcessEnv = {};

  /** Runs a file of the consumer project with this Node. */
  const node = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> => run(process.execPath, args, { cwd: app, env: { ...env, ...extra } });
  const npx = (args: string[], extra: NodeJS.ProcessEnv = {}): Promise<Run> => run('npx', ['--no-install', ...args], { cwd: app, env: { ...env, ...extra } });

  beforeAll(async () => {
    packed = await pack(work);
    console.log(`npm package: ${packed.tarball.slice(work.length + 1)}: ${(packed.size / 1024).toFixed(0)} KiB packed, `
      + `${(packed.unpackedSize / 1024).toFixed(0)} KiB unpacked, ${packed.files.length} files`);
    env = userEnv(join(work, 'no-compiler'));
    newProject(app, { type: 'module' });
    ok(await run('npm', [...INSTALL, packed.tarball], { cwd: app, env }), 'npm install');
  }, 300_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('holds the runtime only: no bench, tests or scripts; every source map with its sources', () => {
    const paths = packed.files.map((file) => file.path);
    for (const file of ['package.json', 'README.md', 'LICENSE', 'binding.gyp', 'native/addon.cc', 'native/xenstore_api.h',
      'prebuilds/linux-x64/xen-domconfig.glibc.node', 'prebuilds/linux-arm64/xen-domconfig.glibc.node',
      'bin/xen-domconfig', 'dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/bin/xen-domconfig.js', 'lib/index.ts']) {
      expect(paths).toContain(file);
    }
    const outside = paths.filter((path) => /^(bench|test|scripts|build|\.cache|\.ci|dist\/bench|node_modules)\//.test(path) || /\.test\.|tsconfig|vitest/.test(path));
    expect(outside).toEqual([]);
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toContain('Copyright (c) 2026 the xen-domconfig authors');

    const maps = paths.filter((path) => path.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    const unresolved: string[] = [];
    for (const map of maps) {
      const { sources, sourcesContent, sourceRoot = '' } = JSON.parse(readFileSync(join(installed, map), 'utf8')) as {
        sources: string[]; sourcesContent?: (string | null)[]; sourceRoot?: string;
      };
      sources.forEach((source, index) => {
        const shipped = existsSync(resolve(installed, dirname(map), sourceRoot, source));
        if (!shipped && typeof sourcesContent?.[index] !== 'string') unresolved.push(`${map} → ${source}`);
      });
    }
    expect(unresolved).toEqual([]);
  });

  it('installs without a compiler: node-gyp-build takes the linux-x64 glibc prebuild', async () => {
    expect(existsSync(join(installed, 'build'))).toBe(false);
    const chosen = ok(await node(['-p', `require('node-gyp-build/node-gyp-build.js').path(${JSON.stringify(installed)})`]), 'node-gyp-build');
    expect(chosen.stdout.trim()).toBe(join(installed, 'prebuilds/linux-x64/xen-domconfig.glibc.node'));
  });

  it('imports as ESM and talks to a real xenstored', async () => {
    writeFileSync(join(app, 'esm.mjs'), `import { XenStore } from 'xen-domconfig';
const store = XenStore.open({ path: process.argv[2] });
await store.write('/package/esm', 'imported');
console.log(await store.read('/package/esm'), (await store.list('/package')).join(','));
await store.close();
`);
    const result = ok(await node(['esm.mjs', xs.current.socketPath]), 'esm.mjs');
    expect(result.stdout.trim()).toMatch(/^imported (.*,)?esm(,.*)?$/);
  });

  it('loads with require() from CommonJS', async () => {
    writeFileSync(join(app, 'cjs.cjs'), `const { XenStore, parseDomainConfig } = require('xen-domconfig');
const store = XenStore.open({ path: process.argv[2] });
store.writeSync('/package/cjs', 'required');
console.log(store.readSync('/package/cjs'), parseDomainConfig('{"c_info":{"name":"d"}}').c_info.name);
store.close().then(() => {});
`);
    const result = ok(await node(['--no-warnings', 'cjs.cjs', xs.current.socketPath]), 'cjs.cjs');
    expect(result.stdout.trim()).toBe('required d');
  });

  it('type-checks as a dependency with --module/--moduleResolution node16, nodenext and esnext/bundler', async () => {
    writeFileSync(join(app, 'consumer.ts'), `import { XenStore, XenStoreError, parseDomainConfig, type DomainConfig, type XenStoreOpenOptions } from 'xen-domconfig';

const options: XenStoreOpenOptions = { path: '/run/xenstored/socket', pipelined: false };

export async function domainName(domid: number): Promise<string | undefined> {
  const store = XenStore.open(options);
  try {
    // @ts-expect-error: a xenstore path is a string
    await store.read(domid);
    return await store.read(\`/local/domain/\${domid}/name\`);
  } catch (error) {
    if (error instanceof XenStoreError) return error.code;
    throw error;
  } finally {
    await store.close();
  }
}

export const config: DomainConfig = parseDomainConfig('{}');
`);
    const tsc = join(root, 'node_modules/typescript/bin/tsc');
    const check = async ([module, moduleResolution]: [string, string]): Promise<string> => {
      const result = await node([tsc, '--strict', '--noEmit', '--target', 'es2022', '--lib', 'es2022', '--module', module,
        '--moduleResolution', moduleResolution, '--types', 'node', '--typeRoots', join(root, 'node_modules/@types'), 'consumer.ts']);
      return `${moduleResolution}: exit ${result.code} ${result.stdout}${result.stderr}`.trim();
    };
    // Three processes at once: most of each one's time is checking @types/node.
    const results = await Promise.all(([['node16', 'node16'], ['nodenext', 'nodenext'], ['esnext', 'bundler']] as [string, string][]).map(check));
    expect(results).toEqual(['node16: exit 0', 'nodenext: exit 0', 'bundler: exit 0']);
  });

  it('runs as a command: --version, --help', async () => {
    const versionOut = ok(await npx(['xen-domconfig', '--version']), '--version');
    expect(versionOut.stdout.trim()).toBe(version);
    const help = ok(await npx(['xen-domconfig', '--help']), '--help');
    expect(help.stdout).toMatch(/^Usage: xen-domconfig /m);
    expect(help.stdout).toContain('Exit codes:');
  });

  it('the linked command starts the node on PATH with its heap flag, on the bundle beside it', async () => {
    // A node first on PATH that notes its arguments, then is this Node.
    const shim = join(work, 'node-shim');
    mkdirSync(shim, { recursive: true });
    writeFileSync(join(shim, 'node'), `#!/bin/sh\nprintf '%s\\n' "$*" > ${join(work, 'node-args')}\nexec ${process.execPath} "$@"\n`);
    chmodSync(join(shim, 'node'), 0o755);
    const linked = join(app, 'node_modules/.bin/xen-domconfig');
    const result = ok(await run(linked, ['--version'], { cwd: app, env: { ...env, PATH: [shim, env.PATH].join(delimiter) } }), 'the linked command');
    expect(result.stdout.trim()).toBe(version);
    expect(readFileSync(join(work, 'node-args'), 'utf8')).toBe(`--max-semi-space-size=4 ${linked} --version\n`);
    // Its status is the command's own.
    expect((await run(linked, ['no-such-command'], { cwd: app, env })).code).toBe(2);
  });

  it('demo: one line on what to do (exit 3), since the private xenstored comes with a source checkout only', async () => {
    const result = await npx(['xen-domconfig', 'demo']);
    expect(result.code).toBe(3);
    const lines = result.stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^xen-domconfig: the demo runs a private xenstored that only a source checkout has .*run `npm run demo` there$/);

    // In the checkout itself, a daemon that is not there yet is named, with the set-up that makes it.
    const checkout = await run(process.execPath, [join(root, 'dist/bin/xen-domconfig.js'), 'demo'],
      { cwd: root, env: { ...env, XEN_DOMCONFIG_XENSTORED: join(work, 'no-xenstored') } });
    expect(checkout.code).toBe(3);
    expect(checkout.stderr).toBe(`xen-domconfig: ${join(work, 'no-xenstored')} is missing: run \`npm run setup\` (scripts/setup.sh) first\n`);
  });

  describe('on a musl host (LIBC=musl)', () => {
    const musl = { LIBC: 'musl' };

    it('node-gyp-build does not take the glibc prebuild', async () => {
      const result = await node(['-p', `require('node-gyp-build/node-gyp-build.js').path(${JSON.stringify(installed)})`], musl);
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/No native build was found for platform=linux arch=x64 .*libc=musl/);
    });

    it('the loader says what to do, and the command prints it as one line with exit 3', async () => {
      writeFileSync(join(app, 'musl.mjs'), `import { NativeAddonError, XenStore } from 'xen-domconfig';
try {
  XenStore.open({ path: process.argv[2] });
} catch (error) {
  const { name, code, message } = error;
  console.log(JSON.stringify({ addonError: error instanceof NativeAddonError, name, code, message }));
}
`);
      const result = ok(await node(['musl.mjs', xs.current.socketPath], musl), 'musl.mjs');
      const error = JSON.parse(result.stdout) as { name: string; code: string; message: string };
      expect(error).toMatchObject({ addonError: true, name: 'NativeAddonError', code: 'ERR_XEN_DOMCONFIG_ADDON' });
      expect(error.message).toBe(`xen-domconfig's native addon cannot be loaded on linux-x64 (LIBC=musl, Node ${process.versions.node}, `
        + `ABI ${process.versions.modules}, N-API ${process.versions.napi}): no prebuilt binary matches (prebuilt: linux-x64 and linux-arm64 with glibc) `
        + 'and none was built from source; run `npm rebuild xen-domconfig` with a C++17 compiler, make and python3 installed to build it from source, '
        + 'or use a platform with a prebuilt binary');

      const command = await npx(['xen-domconfig', '--xenstore', xs.current.socketPath, 'list'], musl);
      expect(command.code).toBe(3);
      expect(command.stderr).toBe(`xen-domconfig: ${error.message}\n`);
    });

    it('npm install builds from source instead, and fails without a compiler', async () => {
      const muslApp = newProject(join(work, 'musl-app'));
      const result = await run('npm', [...INSTALL, packed.tarball], { cwd: muslApp, env: { ...env, ...musl } });
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/node-gyp-build/);
      expect(result.stderr).toMatch(/gyp ERR!/);
      expect(existsSync(join(muslApp, 'node_modules/xen-domconfig'))).toBe(false);
    });
  });
});
