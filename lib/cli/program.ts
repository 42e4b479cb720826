// The xen-domconfig command line: option parsing (commander), one handler per
// command, and the mapping of every failure to one line and an exit code.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Argument, Command, CommanderError, Option } from 'commander';
import { packageRoot } from '../util/package-root.js';
import { DEFAULT_USERDATA_DIR } from '../xen.js';
import { EXIT, EXIT_CODE_HELP, describeError, exitCodeFor } from './errors.js';
import { COMMANDS } from './commands.js';
import type { Shell } from './completion.js';
import type { CommandContext, GlobalOptions } from './context.js';
import { outline } from './outline.js';

/** The shells `completion` writes a script for (completion.ts is loaded only by that command). */
const SHELLS = ['bash', 'zsh'] as const satisfies readonly Shell[];

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WriteStream | NodeJS.WritableStream;
}

const SUMMARY = 'Xen domain configuration like libxl';

const DESCRIPTION = `Xen domain configuration like libxl: templates (libxl-json userdata) merged with
live xenstore state, drift reports, and crash-safe device hotplug. Works next to xl.`;

const LIST_LIMITS = `
Columns: Name, ID and VCPUs (online vCPUs) come from xenstore; Mem is the
balloon target (memory/target), not the hypervisor's current allocation.
State and Time(s) are known only to the hypervisor and are shown as '-'.`;

const COMPLETION_SETUP = `
To load it in each new shell, add to ~/.bashrc (or to ~/.zshrc, after compinit):
  source <(xen-domconfig completion bash)
or install it for every user (bash-completion and zsh look there):
  xen-domconfig completion bash > /usr/local/share/bash-completion/completions/xen-domconfig
  xen-domconfig completion zsh > /usr/local/share/zsh/site-functions/_xen-domconfig`;

/** What the handler that ran left for runCli: its exit code, and whether --debug was given. */
interface Outcome {
  exitCode: number;
  debug: boolean;
}

export async function runCli(argv: string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const outcome: Outcome = { exitCode: EXIT.OK, debug: argv.includes('--debug') };
  const program = createProgram(io, outcome);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return outcome.exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // commander printed its message (or the help) already.
      return error.code === 'commander.helpDisplayed' || error.code === 'commander.help' || error.code === 'commander.version'
        ? EXIT.OK
        : EXIT.USAGE;
    }
    io.stderr.write(`xen-domconfig: ${describeError(error)}\n`);
    if (outcome.debug) io.stderr.write(`${detail(error)}\n`);
    return exitCodeFor(error);
  }
}

/**
 * The whole command line as commander's tree: global options, one command per
 * CommandSpec, and completion. --help, the completion scripts and the man page
 * are all read from it.
 */
export function createProgram(io: CliIo = { stdout: process.stdout, stderr: process.stderr }, outcome: Outcome = { exitCode: EXIT.OK, debug: false }): Command {
  const program = new Command('xen-domconfig')
    .summary(SUMMARY)
    .description(DESCRIPTION)
    .option('--userdata-dir <dir>', "libxl's userdata folder (templates and locks)", DEFAULT_USERDATA_DIR)
    .option('--xenstore <path>', "xenstored's socket (default: XENSTORED_PATH, XENSTORED_RUNDIR/socket, /var/run/xenstored/socket)")
    .option('--no-hotplug-scripts', "leave dom0's vbd/vif hotplug scripts to udev (xl.conf's run_hotplug_scripts=0)")
    .option('--json', 'machine-readable output where the default is for people')
    .option('-q, --quiet', 'print only results and errors')
    .option('--debug', 'print stack traces and error details')
    .addOption(new Option('-V, --version', 'print the version'))
    .addHelpText('after', `\n${EXIT_CODE_HELP}`)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
      outputError: (text, write) => write(`xen-domconfig: ${text.replace(/^error: /, '')}`),
    });
  // Read only when asked for, so that other commands never open package.json.
  program.on('option:version', () => {
    io.stdout.write(`${packageVersion()}\n`);
    throw new CommanderError(EXIT.OK, 'commander.version', 'version printed');
  });

  for (const spec of COMMANDS) {
    const command = program.command(spec.usage).description(spec.description);
    for (const option of spec.options ?? []) command.addOption(new Option(option.flags, option.description));
    if (spec.name === 'list') command.addHelpText('after', LIST_LIMITS);
    command.action(async (...args: unknown[]) => {
      const self = args[args.length - 1] as Command;
      const globals = self.optsWithGlobals<GlobalOptions & Record<string, unknown>>();
      outcome.debug = Boolean(globals.debug);
      const context: CommandContext = {
        globals,
        options: self.opts(),
        args: self.processedArgs as unknown[],
        out: (text) => { io.stdout.write(text); },
        info: (text) => { if (!globals.quiet) io.stderr.write(`${text}\n`); },
        warn: (text) => { io.stderr.write(`xen-domconfig: ${text}\n`); },
        stderr: io.stderr,
      };
      outcome.exitCode = await spec.run(context);
    });
  }

  program.command('completion')
    .description('print the completion script for SHELL: commands, options, and the names of running domains')
    .addArgument(new Argument('<shell>', 'the shell to complete in').choices(SHELLS))
    .addHelpText('after', COMPLETION_SETUP)
    .action(async (shell: Shell) => {
      const { completionScript } = await import('./completion.js');
      io.stdout.write(completionScript(shell, outline(program)));
    });
  return program;
}

/** The version in the package's package.json (the bundle and an installed package both find it from their own file). */
export function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

function detail(error: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = error; e; e = (e as { cause?: unknown }).cause) {
    parts.push(e instanceof Error ? (e.stack ?? e.message) : String(e));
    if (parts.length > 5) break;
  }
  return parts.join('\nCaused by: ');
}

