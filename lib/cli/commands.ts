// One entry per command: its usage, options and handler. Handlers return the
// exit code; failures they cannot describe better are thrown to program.ts.
import { createReadStream, existsSync } from 'node:fs';
import { formatDomainConfig, formatDomainListEntry, formatStruct, joinDomainList, parseDomainConfig, parseStruct } from '../config/index.js';
import { LISTED_DEVICE_TYPES, type DeviceCli, type DeviceEntry, type DeviceJson, type DeviceListCli, type DeviceType } from '../devices/index.js';
import { XenHost } from '../host.js';
import { DEFAULT_LIST_CONCURRENCY, mapConcurrently, type DomainFailure } from '../domain/list.js';
import type { DeviceListing } from '../domain/list-devices.js';
import type { ErrorCode } from '../errors.js';
import { MAX_TEMPLATE_BYTES } from '../userdata/index.js';
import { CliError, EXIT, describeError, exitCodeFor, isXenstoredGone, type ExitCode } from './errors.js';
import { jsonSafe } from '../util/json.js';
import { MAX_DOMID } from '../xen.js';
import { driftJson, formatDomainTable, formatDriftTable, type DomainRow } from './format.js';
import type { CommandContext } from './context.js';
import { startProgress } from './progress.js';

export interface CommandSpec {
  name: string;
  usage: string;
  description: string;
  options?: { flags: string; description: string }[];
  run(context: CommandContext): Promise<ExitCode>;
}

// ------------------------------------------------------------------ helpers

async function withHost<T>(context: CommandContext, work: (host: XenHost) => Promise<T>, needsTemplates = true): Promise<T> {
  const dir = context.globals.userdataDir;
  if (context.globals.xenstore === '') throw new CliError('EINVAL', '--xenstore needs the path of xenstored\'s socket');
  // xenstored first: without it nothing works, whatever else is missing.
  const host = XenHost.open({
    ...(context.globals.xenstore !== undefined ? { xenstorePath: context.globals.xenstore } : {}),
    userdataDir: dir,
    runHotplugScripts: context.globals.hotplugScripts !== false,
  });
  try {
    if (needsTemplates && !existsSync(dir)) {
      throw new CliError('ENOENT', `userdata folder ${dir} does not exist (libxl keeps templates in /var/lib/xen; select another with --userdata-dir)`);
    }
    return await work(host);
  } finally {
    await host.close();
  }
}

/** DOMID or NAME → domid, like libxl_domain_qualifier_to_domid (a name is looked up among all domains). */
async function resolveDomain(host: XenHost, qualifier: string): Promise<number> {
  if (/^[-+]?[0-9]+$/.test(qualifier)) return strictDomid(qualifier);
  const summaries = await host.listDomains();
  const found = summaries.find((entry) => 'name' in entry && entry.name === qualifier);
  if (!found) throw new CliError('ENODOMAIN', `no domain is named '${qualifier}'`);
  return found.domid;
}

function strictDomid(text: string): number {
  if (!/^[0-9]+$/.test(text) || Number(text) > MAX_DOMID) throw new CliError('EBADDOMID', `invalid domain id '${text}': expected a number from 0 to ${MAX_DOMID}`);
  return Number(text);
}

/**
 * Names each failed domain on stderr; the exit code is the failure's own when there is one domain.
 * Xenstored gone is no failure of a domain: it is thrown, said once, and nothing is printed.
 */
function reportFailures(context: CommandContext, failures: DomainFailure[], total: number): ExitCode {
  const gone = failures.find((failure) => isXenstoredGone(failure.error));
  if (gone) throw gone.error;
  for (const { domid, error } of failures) {
    const message = describeError(error);
    context.warn(message.startsWith(`domain ${domid}`) ? message : `domain ${domid}: ${message}`);
  }
  return failures.length === 1 && total === 1 ? exitCodeFor(failures[0]!.error) : EXIT.FAILED;
}

/** Runs work for each domid (as many at once as listDomains does), capturing failures as list entries do. */
async function* eachDomain<T>(domids: number[], stderr: NodeJS.WritableStream, work: (domid: number) => Promise<T>): AsyncGenerator<T | DomainFailure, void> {
  const progress = startProgress('domains retrieved', domids.length, stderr as NodeJS.WriteStream);
  try {
    yield* mapConcurrently(domids, DEFAULT_LIST_CONCURRENCY, async (domid): Promise<T | DomainFailure> => {
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

/** The failures, and what `keep` makes of each other entry as it arrives (a configuration need not outlive its text). */
async function partition<E extends object, T>(entries: AsyncIterable<E | DomainFailure> | Iterable<E | DomainFailure>, keep: (entry: E) => T) {
  const kept: T[] = [];
  const failures: DomainFailure[] = [];
  for await (const entry of entries) {
    if (isFailure(entry)) failures.push(entry);
    else kept.push(keep(entry));
  }
  return { kept, failures, total: kept.length + failures.length };
}

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
      // As ls and du do with an unreadable entry: the rest is printed, the failure named, the status 1.
      const report = (failures: DomainFailure[], total: number, output: () => string): ExitCode => {
        const exitCode = failures.length > 0 ? reportFailures(context, failures, total) : EXIT.OK;
        if (failures.length > 0 && context.options.allOrNothing) {
          if (total > 1) context.warn(`${failures.length} of ${total} domains failed; nothing printed (--all-or-nothing)`);
          return exitCode;
        }
        context.out(output());
        return exitCode;
      };
      if (long) {
        const entries = domids ? eachDomain(domids, context.stderr, (domid) => host.retrieveDomainConfiguration(domid)) : host.streamDomains({ long: true });
        const { kept, failures, total } = await partition(entries, formatDomainListEntry);
        return report(failures, total, () => joinDomainList(kept));
      }
      const { kept, failures, total } = await partition(selectDomains(await host.listDomains(), domids), (row: DomainRow) => row);
      return report(failures, total, () => (context.globals.json ? `${JSON.stringify(kept, jsonSafe, 4)}\n` : formatDomainTable(kept)));
    }, long);
  },
};

/** The requested domains' rows of the short list, in request order; a missing domain is a failure. */
function selectDomains(entries: (DomainRow | DomainFailure)[], domids: number[] | undefined): (DomainRow | DomainFailure)[] {
  if (!domids) return entries;
  return domids.map((domid) => entries.find((entry) => entry.domid === domid)
    ?? { domid, error: new CliError('ENODOMAIN', `domain ${domid} does not exist`) });
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
    const config = parseDomainConfig(await readTemplateInput(file));
    return withHost(context, async (host) => {
      await host.storeDomainConfiguration(domid, config);
      context.info(`stored the template of domain ${domid}`);
      return EXIT.OK;
    });
  },
};

/**
 * FILE, or standard input for '-', read up to the size a stored template may
 * have: a larger one is refused before anything is stored (and /dev/zero ends).
 */
async function readTemplateInput(file: string): Promise<Buffer> {
  const name = file === '-' ? 'standard input' : file;
  const input = file === '-' ? process.stdin : createReadStream(file);
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of input as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_TEMPLATE_BYTES) throw new CliError('ECORRUPT', `${name} holds more than the ${MAX_TEMPLATE_BYTES} bytes a template may have`);
      chunks.push(chunk);
    }
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(systemCode(error), `cannot read ${name}: ${(error as Error).message}`, { cause: error });
  } finally {
    input.destroy();
  }
  return Buffer.concat(chunks);
}

/** The errno name of a failed read (EIO for a failure without one). */
function systemCode(error: unknown): ErrorCode {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' ? code as ErrorCode : 'EIO';
}

/** <noun>-attach for a kind: the spec in xl's syntax, then the library's add. */
function attachCommand(type: DeviceType, cli: DeviceCli): CommandSpec {
  return {
    name: `${cli.noun}-attach`,
    usage: `${cli.noun}-attach <domain> ${cli.attachUsage}`,
    description: cli.attachDescription,
    async run(context) {
      const spec = checkSpecValues(cli.specName, cli.parseSpec(context.args[1] as string[]));
      return withHost(context, async (host) => {
        const domid = await resolveDomain(host, context.args[0] as string);
        const device = parseStruct(type.schema, JSON.stringify(await withBackendDomid(host, spec))) as DeviceEntry;
        const added = await host.addDevice(domid, type, device);
        if (context.globals.json) context.out(formatStruct(type.schema, added.entry as never));
        context.info(`attached ${cli.attached(added.entry, added.devid)} to domain ${domid} (${added.backendPath})`);
        return EXIT.OK;
      });
    },
  };
}

/** <noun>-detach for a kind: the device named as xl names it, removed with xl's mode. */
function detachCommand(type: DeviceType, cli: DeviceCli): CommandSpec {
  return {
    name: `${cli.noun}-detach`,
    usage: `${cli.noun}-detach <domain> ${cli.detachUsage}`,
    description: cli.detachDescription,
    ...(cli.forceOption ? { options: [{ flags: '-f, --force', description: `remove the nodes without waiting for the backend (xl ${cli.noun}-detach -f)` }] } : {}),
    async run(context) {
      // xl's usbdev-detach names the device by two words (controller, port).
      const which = (context.args.slice(1) as string[]).join(' ');
      const target = cli.detachTarget(which);
      if ('invalid' in target) throw new CliError('EINVAL', target.invalid);
      return withHost(context, async (host) => {
        const domid = await resolveDomain(host, context.args[0] as string);
        const identity = 'identity' in target ? target.identity : await identityOf(host, domid, type, target);
        const removed = await host.removeDevice(domid, type, identity, { force: context.options.force ? true : cli.detachForce });
        context.info(`detached ${type.name} ${removed.identity} from domain ${domid}${removed.forced ? ' (forced)' : ''}`);
        return EXIT.OK;
      });
    },
  };
}

/** The longest value a spec may give: what every xenstored takes in one node (oxenstored's default quota). */
const MAX_SPEC_VALUE_BYTES = 2048;

/** A spec whose values xenstore could not hold is refused before anything is written. */
function checkSpecValues(kind: string, spec: DeviceJson): DeviceJson {
  for (const [key, value] of Object.entries(spec)) {
    const bytes = typeof value === 'string' ? Buffer.byteLength(value) : 0;
    if (bytes > MAX_SPEC_VALUE_BYTES) {
      throw new CliError('EINVAL', `invalid ${kind} specification: ${key} is ${bytes} bytes, xenstore holds at most ${MAX_SPEC_VALUE_BYTES}`);
    }
  }
  return spec;
}

/** backend=NAME in a spec names the driver domain; libxl resolves it to a domid, so does this. */
async function withBackendDomid(host: XenHost, spec: DeviceJson): Promise<DeviceJson> {
  const name = spec.backend_domname;
  if (typeof name !== 'string') return spec;
  const { backend_domname: _, ...rest } = spec;
  return { backend_domid: await resolveDomain(host, name), ...rest };
}

/** The identity of the retrieved entry a detach argument names (a nic by its MAC). */
async function identityOf(host: XenHost, domid: number, type: DeviceType, target: { lookup: (entry: DeviceEntry) => boolean; what: string }): Promise<string> {
  const { config } = await host.retrieveDomainConfiguration(domid);
  const entry = ((config as unknown as Record<string, DeviceEntry[]>)[type.array] ?? []).find(target.lookup);
  const key = entry && type.keyOf(entry);
  if (key === undefined) throw new CliError('ENODEV', `domain ${domid} has no ${target.what}`);
  return key;
}

/**
 * <noun>-list for a kind: each domain's devices in xl's format after xl's
 * titles, or with --json the listings. A domain that cannot be resolved is
 * named on stderr and the others are still listed (as xl block-list does).
 */
function listCommand(type: DeviceType, cli: DeviceListCli): CommandSpec {
  return {
    name: `${cli.noun}-list`,
    usage: `${cli.noun}-list ${cli.oneDomain ? '<domain>' : '<domains...>'}`,
    description: cli.description,
    async run(context) {
      const qualifiers = cli.oneDomain ? [context.args[0] as string] : (context.args[0] as string[]);
      return withHost(context, async (host) => {
        const listings: DeviceListing[] = [];
        const failures: Error[] = [];
        for (const qualifier of qualifiers) {
          try {
            listings.push(await host.listDevices(await resolveDomain(host, qualifier), type));
          } catch (error) {
            if (!(error instanceof CliError)) throw error;
            failures.push(error);
          }
        }
        if (context.globals.json) context.out(`${JSON.stringify(listings, jsonSafe, 4)}\n`);
        else context.out(`${cli.header ?? ''}${listings.map((listing) => cli.format(listing.devices, listing.domid)).join('')}`);
        for (const { domid, problems } of listings) {
          for (const problem of problems) context.warn(`domain ${domid}: ${problem.kind} ${problem.path} skipped: ${problem.reason}`);
        }
        for (const failure of failures) context.warn(failure.message);
        return failures.length === 0 ? EXIT.OK : failures.length === 1 && qualifiers.length === 1 ? exitCodeFor(failures[0]) : EXIT.FAILED;
      }, false);
    },
  };
}

/** The attach, detach and list verbs of every kind xl has them for, in the table's order. */
const DEVICE_COMMANDS: CommandSpec[] = LISTED_DEVICE_TYPES.flatMap((type) => [
  ...(type.cli ? [attachCommand(type, type.cli), detachCommand(type, type.cli)] : []),
  ...(type.list ? [listCommand(type, type.list)] : []),
]);

const watch: CommandSpec = {
  name: 'watch',
  usage: 'watch [domains...]',
  description: 'one line per configuration change (NDJSON with --json) as xenstore and the templates change, until interrupted',
  options: [{ flags: '--initial', description: 'start with a line for every domain as it is now' }],
  async run(context) {
    const qualifiers = context.args[0] as string[];
    return withHost(context, async (host) => {
      const domids = await Promise.all(qualifiers.map((q) => resolveDomain(host, q)));
      // Loaded here, so no other command compiles the watch and the mirror.
      const { watchDomains } = await import('./watch.js');
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

export const COMMANDS: CommandSpec[] = [list, retrieve, diff, showTemplate, store, ...DEVICE_COMMANDS, watch, demo];
