// Starts Debian's real C xenstored (unpacked by scripts/setup.sh into
// .cache/xen) on a private Unix socket, with the project's fake hypervisor
// preloaded. Used by the demo, the tests and the benchmarks; on a real Xen
// host the system's xenstored is used instead.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../util/package-root.js';

export interface LocalXenstored {
  /** Unix socket to pass as XenStore.open({ path }) or XENSTORED_PATH. */
  readonly socketPath: string;
  /** Private runtime folder (socket, logs); removed by stop(). */
  readonly rundir: string;
  readonly pid: number;
  stop(): Promise<void>;
}

export interface LocalXenstoredOptions {
  /** Comma-separated domids the fake hypervisor reports as gone. */
  deadDomids?: number[];
  /** Extra xenstored arguments (e.g. ['-T', tracefile]). */
  args?: string[];
  /** Runtime folder to use (created if missing), e.g. to restart on the socket of a killed daemon. */
  rundir?: string;
}

export class LocalXenstoredError extends Error {
  override name = 'LocalXenstoredError';
}

const XENSTORED_RELATIVE = '.cache/xen/root/usr/lib/xen-4.17/bin/xenstored';
const FAKEHV_RELATIVE = '.cache/xen/libfakehv.so';
const START_TIMEOUT_MS = 5000;

export function localXenstoredPaths(): { xenstored: string; fakehv: string } {
  const root = packageRoot();
  return {
    xenstored: process.env.XEN_DOMCONFIG_XENSTORED ?? join(root, XENSTORED_RELATIVE),
    fakehv: process.env.XEN_DOMCONFIG_FAKEHV ?? join(root, FAKEHV_RELATIVE),
  };
}

export async function startLocalXenstored(options: LocalXenstoredOptions = {}): Promise<LocalXenstored> {
  const { xenstored, fakehv } = localXenstoredPaths();
  for (const file of [xenstored, fakehv]) {
    if (!existsSync(file)) {
      throw new LocalXenstoredError(`${file} is missing: run \`npm run setup\` (scripts/setup.sh) first`);
    }
  }
  const rundir = options.rundir ?? mkdtempSync(join(tmpdir(), 'xen-domconfig-xs-'));
  mkdirSync(rundir, { recursive: true });
  const socketPath = join(rundir, 'socket');
  const child = spawn(xenstored, ['-N', ...(options.args ?? [])], {
    cwd: rundir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      XENSTORED_RUNDIR: rundir,
      LD_PRELOAD: fakehv,
      ...(options.deadDomids ? { FAKEHV_DEAD_DOMIDS: options.deadDomids.join(',') } : {}),
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  try {
    await waitForSocket(child, socketPath, () => stderr);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    rmSync(rundir, { recursive: true, force: true });
    throw error;
  }
  return {
    socketPath,
    rundir,
    pid: child.pid!,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
        await exited;
        clearTimeout(timer);
      }
      rmSync(rundir, { recursive: true, force: true });
    },
  };
}

async function waitForSocket(child: ChildProcess, socketPath: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  // xenstored creates the socket file before it listens: wait for a connect to succeed.
  while (!(await acceptsConnections(socketPath))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new LocalXenstoredError(`xenstored exited (${child.exitCode ?? child.signalCode}) before listening: ${stderr().trim()}`);
    }
    if (Date.now() > deadline) {
      throw new LocalXenstoredError(`xenstored did not listen on ${socketPath} within ${START_TIMEOUT_MS} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

function acceptsConnections(socketPath: string): Promise<boolean> {
  if (!existsSync(socketPath)) return Promise.resolve(false);
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    socket.once('connect', () => { socket.destroy(); resolve(true); });
    socket.once('error', () => resolve(false));
  });
}
