// The command line as data, read from commander's tree in one walk: the
// completion scripts and the man page are made from it, so they name exactly
// the commands and options --help shows.
import type { EventEmitter } from 'node:events';
import type { Argument, Command, Option } from 'commander';

export interface OptionOutline {
  /** As declared: '-q, --quiet', '--userdata-dir <dir>'. */
  flags: string;
  /** Every spelling: ['-q', '--quiet']. */
  names: string[];
  /** The name of the value it takes ('dir' for '--userdata-dir <dir>'), if it takes one. */
  value?: string;
  description: string;
  default?: string;
}

export interface ArgumentOutline {
  name: string;
  required: boolean;
  variadic: boolean;
  /** The only values accepted, when commander checks them. */
  choices?: readonly string[];
}

export interface CommandOutline {
  name: string;
  description: string;
  /** Its own options and -h, --help; the global ones are the program's. */
  options: OptionOutline[];
  arguments: ArgumentOutline[];
  /** What addHelpText adds after the command's --help. */
  notes: string;
}

export interface ProgramOutline {
  name: string;
  summary: string;
  description: string;
  /** Global options, -h, --help and -V, --version among them. */
  options: OptionOutline[];
  /** In --help's order, commander's `help [command]` last. */
  commands: CommandOutline[];
}

export function outline(program: Command): ProgramOutline {
  const help = program.createHelp();
  return {
    name: program.name(),
    summary: program.summary(),
    description: program.description(),
    options: help.visibleOptions(program).map(optionOutline),
    commands: help.visibleCommands(program).map((command) => ({
      name: command.name(),
      description: command.description(),
      options: help.visibleOptions(command).map(optionOutline),
      arguments: command.registeredArguments.map(argumentOutline),
      notes: afterHelpText(command),
    })),
  };
}

function optionOutline(option: Option): OptionOutline {
  const value = /[<[]([^>\]]+)[>\]]/.exec(option.flags)?.[1];
  return {
    flags: option.flags,
    names: [option.short, option.long].filter((name): name is string => name !== undefined),
    ...(value === undefined ? {} : { value }),
    description: option.description,
    // --no-x options default to true: nothing to say.
    ...(typeof option.defaultValue === 'string' ? { default: option.defaultValue } : {}),
  };
}

function argumentOutline(argument: Argument): ArgumentOutline {
  return {
    name: argument.name(),
    required: argument.required,
    variadic: argument.variadic,
    ...(argument.argChoices ? { choices: argument.argChoices } : {}),
  };
}

/**
 * addHelpText registers listeners of commander's afterHelp event; this collects
 * what they write. (A Command is an EventEmitter, which its typings leave out.)
 */
function afterHelpText(command: Command): string {
  let text = '';
  const write = (chunk: string): void => { text += chunk; };
  (command as unknown as EventEmitter).emit('afterHelp', { error: false, command, write });
  return text.trim();
}
