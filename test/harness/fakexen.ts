// Drives the real xl/libxl 4.17 oracle in ../shared/fakexen (next to the
// package root) for interop and differential tests. The kit is only read;
// builds go to FAKEXEN_WORK (default /tmp/xen-domconfig-fakexen) and each
// instance runs in its own FAKEXEN_RUN folder under it.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { packageRoot } from '../../lib/util/package-root.js';

export interface XlResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** What `fakexen.sh env` exports, for libxenstore clients and Xen tools. */
export interface FakexenEnv {
  XENSTORED_PATH: string;
  /** The folder libxl uses as /var/lib/xen (userdata files and locks). */
  FAKEXEN_USERDATA_DIR: string;
  FAKEXEN_WORK: string;
  FAKEXEN_RUN: string;
  /** LD_PRELOAD this to run other Xen tools against the instance. */
  FAKEXEN_SHIM: string;
  /** Folder of xl, xenstore-control, … */
  FAKEXEN_BIN: string;
  [name: string]: string;
}

export type FakexenDaemon = 'xenstored' | 'fakebackend' | 'xenconsoled';

export interface FakexenInstance {
  readonly env: FakexenEnv;
  /** Runs `xl ARGS…` to completion. */
  xl(...args: string[]): Promise<XlResult>;
  /** Starts `xl ARGS…` in the background; the child's pid is xl's own. */
  spawnXl(args: string[]): ChildProcess;
  /** Pid of one of the instance's daemons (e.g. to SIGSTOP xenstored). */
  pid(daemon: FakexenDaemon): number;
  stop(): Promise<void>;
}

export interface StartFakexenOptions {
  /** Names the FAKEXEN_RUN folder; unique per test file (the pid is added). */
  name: string;
  /** Start only xenstored (no xl), for fast binding tests. */
  xenstoredOnly?: boolean;
  /** Extra environment for fakexen.sh (e.g. FAKEXEN_XENSTORED=oxenstored). */
  env?: Record<string, string>;
}

const XL_TIMEOUT_MS = 60_000;

export function fakexenKitDir(): string {
  return resolve(packageRoot(), '..', 'shared', 'fakexen');
}

export function fakexenWorkDir(): string {
  return process.env.FAKEXEN_WORK || '/tmp/xen-domconfig-fakexen';
}

/** Why the oracle cannot run here, or undefined when it can. */
export function fakexenAvailable(): string | undefined {
  const kit = fakexenKitDir();
  if (!existsSync(join(kit, 'fakexen.sh')) || !existsSync(join(kit, 'setup.sh'))) return `fakexen kit not found at ${kit}`;
  if (process.platform !== 'linux' || process.arch !== 'x64') return 'fakexen runs Debian x86-64 binaries only';
  if (process.getuid?.() !== 0) return 'fakexen needs root (apt-get, mknod)';
  return undefined;
}

let setupDone: Promise<void> | undefined;

/** Runs the kit's setup.sh once per process, serialised across processes by flock(1). */
export function setupFakexen(): Promise<void> {
  setupDone ??= (async () => {
    const reason = fakexenAvailable();
    if (reason) throw new Error(reason);
    const work = fakexenWorkDir();
    mkdirSync(work, { recursive: true });
    const result = await run('flock', [join(work, '.setup.lock'), 'bash', join(fakexenKitDir(), 'setup.sh')],
      { ...process.env, FAKEXEN_WORK: work }, 300_000);
    if (result.code !== 0) throw new Error(`fakexen setup.sh failed (${result.code}): ${result.stderr || result.stdout}`);
  })();
  return setupDone;
}

export async function startFakexen(options: StartFakexenOptions): Promise<FakexenInstance> {
  await setupFakexen();
  const work = fakexenWorkDir();
  const runDir = join(work, `run-${options.name}-${process.pid}`);
  const script = join(fakexenKitDir(), 'fakexen.sh');
  const baseEnv = { ...process.env, ...options.env, FAKEXEN_WORK: work, FAKEXEN_RUN: runDir };
  rmSync(runDir, { recursive: true, force: true });
  const started = await run('bash', [script, 'start', ...(options.xenstoredOnly ? ['--xenstored-only'] : [])], baseEnv, 30_000);
  if (started.code !== 0) throw new Error(`fakexen start failed (${started.code}): ${started.stderr || started.stdout}`);
  const exported = await run('bash', [script, 'env'], baseEnv, 10_000);
  const env = parseExports(exported.stdout);
  let stopped = false;

  return {
    env,
    xl: (...args) => run('bash', [script, 'xl', ...args], baseEnv, XL_TIMEOUT_MS),
    spawnXl: (args) => spawn('bash', [script, 'xl', ...args], { env: baseEnv, stdio: ['ignore', 'pipe', 'pipe'] }),
    pid(daemon) {
      const pid = Number(readFileSync(join(runDir, `${daemon}.pid`), 'utf8').trim());
      if (!Number.isInteger(pid) || pid <= 0) throw new Error(`no pid recorded for ${daemon}`);
      return pid;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await run('bash', [script, 'stop'], baseEnv, 30_000);
      rmSync(runDir, { recursive: true, force: true });
    },
  };
}

/** One instance per test file (beforeAll/afterAll); read `.current` inside tests. */
export function useFakexen(options: StartFakexenOptions): { readonly current: FakexenInstance } {
  const holder: { current?: FakexenInstance } = {};
  beforeAll(async () => { holder.current = await startFakexen(options); }, 120_000);
  afterAll(async () => { await holder.current?.stop(); });
  return {
    get current(): FakexenInstance {
      if (!holder.current) throw new Error('fakexen not started yet (use inside a test)');
      return holder.current;
    },
  };
}

function parseExports(text: string): FakexenEnv {
  const env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const match = /^export ([A-Z_0-9]+)=(.*)$/.exec(line);
    if (match) env[match[1]!] = unquoteBash(match[2]!);
  }
  for (const name of ['XENSTORED_PATH', 'FAKEXEN_USERDATA_DIR', 'FAKEXEN_RUN', 'FAKEXEN_SHIM', 'FAKEXEN_BIN']) {
    if (!env[name]) throw new Error(`fakexen.sh env did not export ${name}`);
  }
  return env as FakexenEnv;
}

// `printf %q` output: backslash escapes, or $'…' for control characters (not used by the kit's paths).
function unquoteBash(value: string): string {
  if (value.startsWith("$'")) throw new Error(`unsupported quoting in fakexen env: ${value}`);
  return value.replace(/\\(.)/g, '$1');
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv, timeout: number): Promise<XlResult> {
  return new Promise((resolvePromise) => {
    execFile(command, args, { env, timeout, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      resolvePromise({ code, stdout, stderr });
    });
  });
}
