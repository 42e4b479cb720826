// One entry per command: its usage, options and handler. Handlers return the
// exit code; failures they cannot describe better are thrown to program.ts.
import { existsSync, readFileSync } from 'node:fs';
import {
  formatDevice, formatDomainConfig, formatDomainList, parseDevice, parseDomainConfig, type DeviceDisk, type DeviceNic,
} from '../config/index.js';
import { XenHost } from '../domain/host.js';
import { DEFAULT_LIST_CONCURRENCY, mapConcurrently, type DomainFailure } from '../domain/list.js';
import type { RetrievedDomain } from '../domain/retrieve.js';
import { CliError, EXIT, UsageError, describeError, exitCodeFor, type ExitCode } from './errors.js';
import { driftJson, formatDomainTable, formatDriftTable, jsonSafe, type DomainRow } from './format.js';
import { startProgress } from './progress.js';
import { watchDomains } from './watch.js';
import { parseDiskSpec, parseVifSpec, type DeviceJson } from './xlspec.js';

export interface GlobalOptions {
  userdataDir: string;
  xenstore?: string;
  json?: boolean;
  quiet?: boolean;
  debug?: boolean;
  /** false with --no-hotplug-scripts. */
  hotplugScripts?: boolean;
}

export interface CommandContext {
  globals: GlobalOptions;
  options: Record<string, unknown>;
  /** Positional arguments in usage order (a variadic one is an array). */
  args: unknown[];
  /** Results, on stdout. */
  out(text: string): void;
  /** Progress and confirmations, on stderr unless --quiet. */
  info(text: string): void;
  /** Per-item failures, on stderr. */
  warn(text: string): void;
  stderr: NodeJS.WritableStream;
}

export interface CommandSpec {
  name: string;
  usage: string;
  description: string;
  options?: { flags: string; description: string }[];
  run(context: CommandContext): Promise<ExitCode>;
}

const MAX_DOMID = 0x7fef;

// ------------------------------------------------------------------ helpers

async function withHost<T>(context: CommandContext, work: (host: XenHost) => Promise<T>, needsTemplates = true): Promise<T> {
  const dir = context.globals.userdataDir;
  // xenstored first: without it nothing works, whatever else is missing.
  const host = XenHost.open({
    ...(context.globals.xenstore !== undefined ? { xenstorePath: context.globals.xenstore } : {}),
    userdataDir: dir,
    runHotplugScripts: context.globals.hotplugScripts !== false,
  });
  try {
    if (needsTemplates && !existsSync(dir)) {
      throw new CliError(`userdata folder ${dir} does not exist (libxl keeps templates in /var/lib/xen; select another with --userdata-dir)`, EXIT.NOT_FOUND);
    }
    return await work(host);
  } finally {
    await host.close();
  }
}

/** DOMID or NAME → domid, like libxl_domain_qualifier_to_domid (a name is looked up among all domains). */
async function resolveDomain(host: XenHost, qualifier: string): Promise<number> {
  if (/^[0-9]+$/.test(qualifier)) return strictDomid(qualifier);
  const summaries = await host.listDomains();
  const found = summaries.find((entry) => 'name' in entry && entry.name === qualifier);
  if (!found) throw new CliError(`no domain is named '${qualifier}'`, EXIT.NOT_FOUND);
  return found.domid;
}

function strictDomid(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > MAX_DOMID) throw new UsageError(`invalid domain id '${text}': expected a number from 0 to ${MAX_DOMID}`);
  return Number(text);
}

/** Names each failed domain on stderr; the exit code is the failure's own when there is one domain. */
function reportFailures(context: CommandContext, failures: DomainFailure[], total: number): ExitCode {
  for (const { domid, error } of failures) {
    const message = describeError(error);
    context.warn(message.startsWith(`domain ${domid}`) ? message : `domain ${domid}: ${message}`);
  }
  return failures.length === 1 && total === 1 ? exitCodeFor(failures[0]!.error) : EXIT.FAILED;
}

/** Runs work for each domid (as many at once as listDomains does), capturing failures as list entries do. */
async function eachDomain<T>(domids: number[], stderr: NodeJS.WritableStream, work: (domid: number) => Promise<T>): Promise<(T | DomainFailure)[]> {
  const progress = startProgress('domains retrieved', domids.length, stderr as NodeJS.WriteStream);
  try {
    return await mapConcurrently(domids, DEFAULT_LIST_CONCURRENCY, async (domid): Promise<T | DomainFailure> => {
      try {
        return await work(domid);
      } catch (error) {
        if (!(error instanceof Error)) throw error;
        return { domid, error };
      } finally {
        progress.tick();
      }
    });
  } finally {
    progress.done();
  }
}

const isFailure = (entry: object): entry is DomainFailure => 'error' in entry;

// ------------------------------------------------------------------ commands

const list: CommandSpec = {
  name: 'list',
  usage: 'list [domains...]',
  description: 'list domains like `xl list`; with -l, their configurations like `xl list -l`',
  options: [
    { flags: '-l, --long', description: 'full configurations (template merged with xenstore), as `xl list -l` prints them' },
    { flags: '--all-or-nothing', description: 'print nothing unless every domain is retrieved (by default the others are printed, and the exit code is 1)' },
  ],
  async run(context) {
    const qualifiers = context.args[0] as string[];
    const long = Boolean(context.options.long);
    return withHost(context, async (host) => {
      let domids = qualifiers.length > 0 ? await Promise.all(qualifiers.map((q) => resolveDomain(host, q))) : undefined;
      // The counter needs the domain count first; without a terminal, listDomains alone is quicker.
      if (long && !domids && (context.stderr as NodeJS.WriteStream).isTTY) domids = (await host.listDomains()).map((entry) => entry.domid);
      const entries = long
        ? (domids ? await eachDomain(domids, context.stderr, async (domid) => host.retrieveDomainConfiguration(domid)) : await host.listDomains({ long: true }))
        : selectDomains(await host.listDomains(), domids);
      const failures = entries.filter(isFailure);
      const exitCode = failures.length > 0 ? reportFailures(context, failures, entries.length) : EXIT.OK;
      // As ls and du do with an unreadable entry: the rest is printed, the failure named, the status 1.
      if (failures.length > 0 && context.options.allOrNothing) {
        if (entries.length > 1) context.warn(`${failures.length} of ${entries.length} domains failed; nothing printed (--all-or-nothing)`);
        return exitCode;
      }
      const good = entries.filter((entry) => !isFailure(entry));
      if (long) context.out(formatDomainList(good as RetrievedDomain[]));
      else context.out(context.globals.json ? `${JSON.stringify(good, jsonSafe, 4)}\n` : formatDomainTable(good as DomainRow[]));
      return exitCode;
    }, long);
  },
};

/** The requested domains' rows of the short list, in request order; a missing domain is a failure. */
function selectDomains(entries: (DomainRow | DomainFailure)[], domids: number[] | undefined): (DomainRow | DomainFailure)[] {
  if (!domids) return entries;
  return domids.map((domid) => entries.find((entry) => entry.domid === domid)
    ?? { domid, error: new CliError(`domain ${domid} does not exist`, EXIT.NOT_FOUND) });
}

const retrieve: CommandSpec = {
  name: 'retrieve',
  usage: 'retrieve <domain>',
  description: "the domain's configuration now (template merged with xenstore), as libxl-json",
  async run(context) {
    return withHost(context, async (host) => {
      const { config, devices } = await host.retrieveDomainConfiguration(await resolveDomain(host, context.args[0] as string));
      context.out(formatDomainConfig(config));
      for (const problem of devices.problems) context.warn(`${problem.kind} ${problem.path} skipped: ${problem.reason}`);
      return EXIT.OK;
    });
  },
};

const diff: CommandSpec = {
  name: 'diff',
  usage: 'diff <domain>',
  description: 'drift between the stored template and xenstore: refreshed values, devices on one side only',
  async run(context) {
    return withHost(context, async (host) => {
      const report = await host.diffDomainConfiguration(await resolveDomain(host, context.args[0] as string));
      context.out(context.globals.json ? driftJson(report) : formatDriftTable(report));
      return EXIT.OK;
    });
  },
};

const showTemplate: CommandSpec = {
  name: 'show-template',
  usage: 'show-template <domain>',
  description: "the stored template exactly as libxl wrote it (userdata-d.<domid>.<uuid>.libxl-json)",
  async run(context) {
    return withHost(context, async (host) => {
      const text = await host.templates.readText(await resolveDomain(host, context.args[0] as string));
      context.out(text.endsWith('\n') ? text : `${text}\n`);
      return EXIT.OK;
    });
  },
};

const store: CommandSpec = {
  name: 'store',
  usage: 'store <domid> <file>',
  description: "store FILE (libxl-json, '-' for stdin) as the domain's template, as libxl does at create time",
  async run(context) {
    const domid = strictDomid(context.args[0] as string);
    const file = context.args[1] as string;
    let text: string;
    try {
      text = readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (error) {
      throw new CliError(`cannot read ${file}: ${(error as Error).message}`, exitCodeFor(error));
    }
    const config = parseDomainConfig(text);
    return withHost(context, async (host) => {
      await host.storeDomainConfiguration(domid, config);
      context.info(`stored the template of domain ${domid}`);
      return EXIT.OK;
    });
  },
};

const blockAttach: CommandSpec = {
  name: 'block-attach',
  usage: 'block-attach <domain> <diskspec...>',
  description: 'hotplug a disk; DISKSPEC as in xl-disk-configuration(5), e.g. phy:/dev/vg/data,xvdb,w',
  async run(context) {
    const spec = parseDiskSpec(context.args[1] as string[]);
    return withHost(context, async (host) => {
      const domid = await resolveDomain(host, context.args[0] as string);
      const disk = parseDevice('disk', JSON.stringify(await withBackendDomid(host, spec)));
      const added = await host.addDevice(domid, 'disk', disk);
      if (context.globals.json) context.out(formatDevice('disk', added.entry as unknown as DeviceDisk));
      context.info(`attached disk ${String(added.entry.vdev)} to domain ${domid} (${added.backendPath})`);
      return EXIT.OK;
    });
  },
};

const blockDetach: CommandSpec = {
  name: 'block-detach',
  usage: 'block-detach <domain> <vdev>',
  description: 'unplug a disk by its virtual device name (xvdb, hdc, …); fails if the backend does not close',
  options: [{ flags: '-f, --force', description: 'remove the nodes without waiting for the backend (xl block-detach -f)' }],
  async run(context) {
    return withHost(context, async (host) => {
      const domid = await resolveDomain(host, context.args[0] as string);
      const vdev = context.args[1] as string;
      // xl: libxl_device_disk_safe_remove, or libxl_device_disk_destroy with -f.
      const removed = await host.removeDevice(domid, 'disk', vdev, { force: context.options.force ? true : 'never' });
      context.info(`detached disk ${vdev} from domain ${domid}${removed.forced ? ' (forced)' : ''}`);
      return EXIT.OK;
    });
  },
};

const networkAttach: CommandSpec = {
  name: 'network-attach',
  usage: 'network-attach <domain> [key=value...]',
  description: 'hotplug a network interface; keys as in xl-network-configuration(5), e.g. bridge=xenbr0 mac=00:16:3e:..',
  async run(context) {
    const spec = parseVifSpec(context.args[1] as string[]);
    return withHost(context, async (host) => {
      const domid = await resolveDomain(host, context.args[0] as string);
      const nic = parseDevice('nic', JSON.stringify(await withBackendDomid(host, spec)));
      const added = await host.addDevice(domid, 'nic', nic);
      if (context.globals.json) context.out(formatDevice('nic', added.entry as unknown as DeviceNic));
      context.info(`attached nic ${added.devid} (mac ${String(added.entry.mac)}) to domain ${domid} (${added.backendPath})`);
      return EXIT.OK;
    });
  },
};

const networkDetach: CommandSpec = {
  name: 'network-detach',
  usage: 'network-detach <domain> <devid-or-mac>',
  description: 'unplug a network interface by devid or MAC address',
  async run(context) {
    const which = context.args[1] as string;
    if (!which.includes(':') && !/^[0-9]+$/.test(which)) throw new UsageError(`'${which}' is neither a devid nor a MAC address`);
    return withHost(context, async (host) => {
      const domid = await resolveDomain(host, context.args[0] as string);
      const devid = which.includes(':') ? await devidOfMac(host, domid, which) : Number(which);
      // xl: libxl_device_nic_remove (waits for the backend, then forces).
      const removed = await host.removeDevice(domid, 'nic', devid, { force: false });
      context.info(`detached nic ${devid} from domain ${domid}${removed.forced ? ' (forced)' : ''}`);
      return EXIT.OK;
    });
  },
};

/** backend=NAME in a spec names the driver domain; libxl resolves it to a domid, so does this. */
async function withBackendDomid(host: XenHost, spec: DeviceJson): Promise<DeviceJson> {
  const name = spec.backend_domname;
  if (typeof name !== 'string') return spec;
  const { backend_domname: _, ...rest } = spec;
  return { backend_domid: await resolveDomain(host, name), ...rest };
}

async function devidOfMac(host: XenHost, domid: number, mac: string): Promise<number> {
  const wanted = mac.toLowerCase();
  const { config } = await host.retrieveDomainConfiguration(domid);
  const nic = config.nics.find((n) => n.mac.toLowerCase() === wanted);
  if (!nic) throw new CliError(`domain ${domid} has no nic with MAC ${mac}`, EXIT.NOT_FOUND);
  return nic.devid;
}

const watch: CommandSpec = {
  name: 'watch',
  usage: 'watch [domains...]',
  description: 'one line per configuration change (NDJSON with --json) as xenstore and the templates change, until interrupted',
  options: [{ flags: '--initial', description: 'start with a line for every domain as it is now' }],
  async run(context) {
    const qualifiers = context.args[0] as string[];
    return withHost(context, async (host) => {
      const domids = await Promise.all(qualifiers.map((q) => resolveDomain(host, q)));
      return watchDomains(context, host, { domids, initial: Boolean(context.options.initial), json: Boolean(context.globals.json) });
    });
  },
};

const demo: CommandSpec = {
  name: 'demo',
  usage: 'demo',
  description: 'show xen-domconfig at work on a private xenstored (no Xen needed; run `npm run setup` first)',
  async run(context) {
    const { runDemo } = await import('./demo.js');
    return runDemo(context);
  },
};

export const COMMANDS: CommandSpec[] = [
  list, retrieve, diff, showTemplate, store, blockAttach, blockDetach, networkAttach, networkDetach, watch, demo,
];
