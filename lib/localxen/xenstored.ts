// Starts Debian's real C xenstored (unpacked by scripts/setup.sh into
// .cache/xen) on a private Unix socket, with the project's fake hypervisor
// preloaded. Used by the demo, the tests and the benchmarks; on a real Xen
// host the system's xenstored is used instead. The OCaml oxenstored from the
// same package can be started instead ({ daemon: 'oxenstored' }): it reads a
// config file written into the rundir, and the fake hypervisor moves its
// compiled-in /var/run/xenstored there too.
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { argumentError, nameErrorClass, XenDomconfigError } from '../errors.js';
import { packageRoot } from '../util/package-root.js';

export interface LocalXenstored {
  /** Unix socket to pass as XenStore.open({ path }) or XENSTORED_PATH. */
  readonly socketPath: string;
  /** Private runtime folder (socket, logs); removed by stop(). */
  readonly rundir: string;
  readonly pid: number;
  stop(): Promise<void>;
  /** stop() for a process on its way out: SIGKILL and the folder removed, without waiting. */
  kill(): void;
}

export type LocalXenstoredDaemon = 'xenstored' | 'oxenstored';

export interface LocalXenstoredOptions {
  /** Which daemon: Debian's C xenstored (the default) or the OCaml oxenstored. */
  daemon?: LocalXenstoredDaemon;
  /** Comma-separated domids the fake hypervisor reports as gone. */
  deadDomids?: number[];
  /** Extra daemon arguments (e.g. ['-T', tracefile] for the C xenstored). */
  args?: string[];
  /**
   * oxenstored only: config keys added to or replacing the ones written into
   * rundir/oxenstored.conf (e.g. { 'access-log-file': file }).
   */
  oxenstoredConfig?: Record<string, string | number | boolean>;
  /** Runtime folder to use (created if missing), e.g. to restart on the socket of a killed daemon. */
  rundir?: string;
  /**
   * A file where the daemon records every request it receives: C xenstored's
   * trace (-T), oxenstored's access log with reads and transactions, never
   * rotated. loggedRequests() reads it.
   */
  requestLog?: string;
}

/** One request a daemon logged: its type (READ, DIRECTORY, …) and the path it names. */
export interface LoggedRequest {
  type: string;
  path: string;
}

/** oxenstored's access log lines that are not requests (connections, error replies, watch events). */
const OXENSTORED_NOT_REQUESTS = new Set(['newconn', 'endconn', 'error', 'w event', 'commit']);
const OXENSTORED_TYPES: Record<string, string> = { 't start': 'TRANSACTION_START', 't end': 'TRANSACTION_END', getperms: 'GET_PERMS', setperms: 'SET_PERMS' };

/** The requests in a request log (or the part of it written since some offset) of `daemon`. */
export function loggedRequests(daemon: LocalXenstoredDaemon, text: string): LoggedRequest[] {
  const requests: LoggedRequest[] = [];
  for (const line of text.split('\n')) {
    if (daemon === 'xenstored') {
      // IN <connection> <date> <time> <TYPE> (<payload, its NULs as spaces>)
      const match = /^IN \S+ \S+ \S+ (\S+) \((.*)\)$/.exec(line);
      if (match) requests.push({ type: match[1]!, path: match[2]!.split(' ')[0]! });
    } else {
      // [<time>]  <connection>  <operation> <path> <value>
      const match = /^\[[^\]]*\]\s+\S+\s+(t start|t end|w event|\S+)\s*(\S*)/.exec(line);
      if (match && !OXENSTORED_NOT_REQUESTS.has(match[1]!)) requests.push({ type: OXENSTORED_TYPES[match[1]!] ?? match[1]!.toUpperCase(), path: match[2]! });
    }
  }
  return requests;
}

export class LocalXenstoredError extends XenDomconfigError {
  /** ERR_LOCAL_XENSTORED_MISSING: the daemon or the fake hypervisor is not there; ERR_LOCAL_XENSTORED_FAILED: it did not start. */
  declare readonly code: 'ERR_LOCAL_XENSTORED_MISSING' | 'ERR_LOCAL_XENSTORED_FAILED';
  constructor(code: LocalXenstoredError['code'], message: string) {
    super(code, message);
  }
}
nameErrorClass(LocalXenstoredError, 'LocalXenstoredError');

const XENSTORED_RELATIVE = '.cache/xen/root/usr/lib/xen-4.17/bin/xenstored';
const OXENSTORED_RELATIVE = '.cache/xen/root/usr/lib/xen-4.17/bin/oxenstored';
const FAKEHV_RELATIVE = '.cache/xen/libfakehv.so';
const START_TIMEOUT_MS = 5000;

export function localXenstoredPaths(): { xenstored: string; oxenstored: string; fakehv: string } {
  const root = packageRoot();
  return {
    xenstored: process.env.XEN_DOMCONFIG_XENSTORED ?? join(root, XENSTORED_RELATIVE),
    oxenstored: process.env.XEN_DOMCONFIG_OXENSTORED ?? join(root, OXENSTORED_RELATIVE),
    fakehv: process.env.XEN_DOMCONFIG_FAKEHV ?? join(root, FAKEHV_RELATIVE),
  };
}

/**
 * oxenstored's config: logs in the rundir (the access log is off), no
 * persistence, and dom0's ring and event channel from the fake /proc/xen.
 * Its socket is the compiled-in /var/run/xenstored/socket, which the fake
 * hypervisor redirects to $XENSTORED_RUNDIR/socket.
 */
function oxenstoredConfig(rundir: string, extra: LocalXenstoredOptions['oxenstoredConfig'] = {}): string {
  const config: Record<string, string | number | boolean> = {
    'pid-file': join(rundir, 'oxenstored.pid'),
    'xenstored-log-file': join(rundir, 'oxenstored.log'),
    // Never /dev/null: oxenstored rotates its access log by renaming the file
    // and creating a new one, which would put a regular file in its place.
    'access-log-file': join(rundir, 'oxenstored-access.log'),
    'xenstored-kva': '/proc/xen/xsd_kva',
    'xenstored-port': '/proc/xen/xsd_port',
    persistent: false,
    ...extra,
  };
  for (const [key, value] of Object.entries(config)) {
    if (/[\s=#]/.test(key) || /[\n#]/.test(String(value))) {
      throw argumentError('ERR_INVALID_ARG_VALUE', `oxenstored config entry ${JSON.stringify(key)} = ${JSON.stringify(value)} cannot be written`);
    }
  }
  return Object.entries(config).map(([key, value]) => `${key} = ${value}\n`).join('');
}

export async function startLocalXenstored(options: LocalXenstoredOptions = {}): Promise<LocalXenstored> {
  const name = options.daemon ?? 'xenstored';
  if (name !== 'xenstored' && name !== 'oxenstored') {
    throw argumentError('ERR_INVALID_ARG_VALUE', `daemon must be 'xenstored' or 'oxenstored', not ${JSON.stringify(name)}`);
  }
  const paths = localXenstoredPaths();
  const { fakehv } = paths;
  const daemon = paths[name];
  for (const file of [daemon, fakehv]) {
    if (!existsSync(file)) throw missing(file);
  }
  const rundir = options.rundir ?? mkdtempSync(join(tmpdir(), 'xen-domconfig-xs-'));
  mkdirSync(rundir, { recursive: true });
  const socketPath = join(rundir, 'socket');
  let args: string[];
  if (name === 'oxenstored') {
    const configFile = join(rundir, 'oxenstored.conf');
    const accessLog: Record<string, string | number | boolean> = options.requestLog === undefined ? {} : {
      'access-log-file': options.requestLog, 'access-log-read-ops': true, 'access-log-transactions-ops': true, 'access-log-nb-lines': 1_000_000_000,
    };
    writeFileSync(configFile, oxenstoredConfig(rundir, { ...accessLog, ...options.oxenstoredConfig }));
    // The access log is the request log; without one it is off.
    args = ['--no-fork', ...(options.requestLog === undefined ? ['--no-access-log'] : []), '--config-file', configFile, ...(options.args ?? [])];
  } else {
    args = ['-N', ...(options.requestLog === undefined ? [] : ['-T', options.requestLog]), ...(options.args ?? [])];
  }
  const child = spawn(daemon, args, {
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
    await waitForSocket(name, child, socketPath, () => stderr);
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
    kill() {
      child.kill('SIGKILL');
      rmSync(rundir, { recursive: true, force: true });
    },
  };
}

/** A source checkout makes the daemon with scripts/setup.sh; an installed package has none. */
function missing(file: string): LocalXenstoredError {
  const message = existsSync(join(packageRoot(), 'scripts', 'setup.sh'))
    ? `${file} is missing: run \`npm run setup\` (scripts/setup.sh) first`
    : 'the demo runs a private xenstored that only a source checkout has (scripts/setup.sh makes it), '
      + 'not an installed package: clone the xen-domconfig repository and run `npm run demo` there';
  return new LocalXenstoredError('ERR_LOCAL_XENSTORED_MISSING', message);
}

async function waitForSocket(name: string, child: ChildProcess, socketPath: string, stderr: () => string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  // xenstored creates the socket file before it listens: wait for a connect to succeed.
  while (!(await acceptsConnections(socketPath))) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new LocalXenstoredError('ERR_LOCAL_XENSTORED_FAILED', `${name} exited (${child.exitCode ?? child.signalCode}) before listening: ${stderr().trim()}`);
    }
    if (Date.now() > deadline) {
      throw new LocalXenstoredError('ERR_LOCAL_XENSTORED_FAILED', `${name} did not listen on ${socketPath} within ${START_TIMEOUT_MS} ms`);
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
