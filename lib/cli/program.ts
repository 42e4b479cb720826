// The xen-domconfig command line: option parsing (commander), one handler per
// command, and the mapping of every failure to one line and an exit code.
import { Command, CommanderError, Option } from 'commander';
import { EXIT, EXIT_CODE_HELP, UsageError, describeError, exitCodeFor } from './errors.js';
import { COMMANDS, type CommandContext, type GlobalOptions } from './commands.js';

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
}

const DESCRIPTION = `Xen domain configuration like libxl: templates (libxl-json userdata) merged with
live xenstore state, drift reports, and crash-safe device hotplug. Works next to xl.`;

const LIST_LIMITS = `
Columns: Name, ID and VCPUs (online vCPUs) come from xenstore; Mem is the
balloon target (memory/target), not the hypervisor's current allocation.
State and Time(s) are known only to the hypervisor and are shown as '-'.`;

export async function runCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  let exitCode: number = EXIT.OK;
  let debug = argv.includes('--debug');
  const program = new Command('xen-domconfig')
    .description(DESCRIPTION)
    .option('--userdata-dir <dir>', "libxl's userdata folder (templates and locks)", '/var/lib/xen')
    .option('--xenstore <path>', "xenstored's socket (default: XENSTORED_PATH, XENSTORED_RUNDIR/socket, /var/run/xenstored/socket)")
    .option('--no-hotplug-scripts', "leave dom0's vbd/vif hotplug scripts to udev (xl.conf's run_hotplug_scripts=0)")
    .option('--json', 'machine-readable output where the default is for people')
    .option('-q, --quiet', 'print only results and errors')
    .option('--debug', 'print stack traces and error details')
    .addHelpText('after', `\n${EXIT_CODE_HELP}`)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`xen-domconfig: ${text.replace(/^error: /, '')}`),
    });

  for (const spec of COMMANDS) {
    const command = program.command(spec.usage).description(spec.description);
    for (const option of spec.options ?? []) command.addOption(new Option(option.flags, option.description));
    if (spec.name === 'list') command.addHelpText('after', LIST_LIMITS);
    command.action(async (...args: unknown[]) => {
      const self = args[args.length - 1] as Command;
      const globals = self.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
      debug = Boolean(globals.debug);
      const context: CommandContext = {
        globals,
        options: self.opts(),
        args: self.processedArgs as unknown[],
        out: (text) => { io.stdout.write(text); },
        info: (text) => { if (!globals.quiet) io.stderr.write(`${text}\n`); },
        warn: (text) => { io.stderr.write(`xen-domconfig: ${text}\n`); },
        stderr: io.stderr,
      };
      exitCode = await spec.run(context);
    });
  }

  try {
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed its message (or the help) already.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version'
        ? EXIT.OK
        : EXIT.USAGE;
    }
    io.stderr.write(`xen-domconfig: ${describeError(error)}\n`);
    if (debug) io.stderr.write(`${detail(error)}\n`);
    else if (error instanceof UsageError) io.stderr.write("Run 'xen-domconfig --help' for usage.\n");
    return exitCodeFor(error);
  }
}

function detail(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    if (parts.length > 5) break;
  }
  return parts.join('\nCaused by: ');
}

