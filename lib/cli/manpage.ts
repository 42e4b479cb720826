// The man page xen-domconfig(1), made from the program's outline (the same
// commands and options --help shows), the exit codes' help text and the tables
// below. `npm run build:man` writes it to MAN_PAGE, which package.json's "man"
// field installs.
import { xenstoredSocketPath } from '../xenstore/protocol.js';
import { LOCK_USERID, TEMPLATE_USERID } from '../userdata/paths.js';
import { DEFAULT_USERDATA_DIR } from '../xen.js';
import { EXIT_CODE_HELP } from './errors.js';
import type { ArgumentOutline, CommandOutline, OptionOutline, ProgramOutline } from './outline.js';

/** Where the build writes the page, from the package root. */
export const MAN_PAGE = 'dist/man/xen-domconfig.1';

/** The variables the command (or libxenstore under it) reads, and what for. */
const ENVIRONMENT: { name: string; description: string }[] = [
  { name: 'XENSTORED_PATH', description: "xenstored's socket when --xenstore is not given (libxenstore's own variable)." },
  { name: 'XENSTORED_RUNDIR', description: "the folder of xenstored's socket, default /var/run/xenstored, when neither --xenstore nor XENSTORED_PATH is given." },
  { name: 'XEN_DOMCONFIG_LIBXENSTORE', description: 'the libxenstore shared library to load instead of libxenstore.so.4 or libxenstore.so.3.0.' },
  { name: 'XEN_DOMCONFIG_NATIVE', description: "the native addon (a .node file) to load instead of the package's build/ or prebuilds/ one." },
  { name: 'XEN_DOMCONFIG_XENSTORED', description: 'for `demo`: the xenstored to start (default: the one `npm run setup` unpacks into the package\'s .cache/xen).' },
  { name: 'XEN_DOMCONFIG_FAKEHV', description: 'for `demo`: the library that lets that xenstored run without a hypervisor (default: in .cache/xen too).' },
];

const SEE_ALSO = ['xl(1)', 'xl.cfg(5)', 'xl-disk-configuration(5)', 'xl-network-configuration(5)'];

export function manPage(program: ProgramOutline, version: string): string {
  const userdataDir = program.options.find((option) => option.names.includes('--userdata-dir'))?.default ?? DEFAULT_USERDATA_DIR;
  const userdataFile = (kind: string, userid: string): string => `${userdataDir}/userdata-${kind}.<domid>.<uuid>.${userid}`;
  const files: [string, string][] = [
    [userdataFile('d', TEMPLATE_USERID), "a domain's template: its configuration as libxl stored it at create time, in libxl-json; the hotplug commands keep it up to date."],
    [userdataFile('n', TEMPLATE_USERID), 'a new template while it is written; renamed over the template once on disk.'],
    [userdataFile('l', LOCK_USERID), "the lock libxl takes around a domain's template; xen-domconfig takes the same."],
    [xenstoredSocketPath({}), "xenstored's socket, when no other is named."],
  ];
  return [
    `.TH ${roff(program.name.toUpperCase())} 1 "" "${roff(`${program.name} ${version}`)}" "User Commands"`,
    // Left-aligned and unhyphenated: option names, paths and domids stay whole.
    '.nh',
    '.ad l',
    '.SH NAME',
    `${roff(program.name)} \\- ${text(program.summary)}`,
    '.SH SYNOPSIS',
    `.B ${roff(program.name)}`,
    '[\\fIglobal options\\fR] \\fIcommand\\fR [\\fIoptions\\fR] [\\fIarguments\\fR]',
    '.br',
    `.B ${roff(program.name)}`,
    '.BR \\-\\-version " | " help',
    '[\\fIcommand\\fR]',
    '.SH DESCRIPTION',
    text(program.description),
    '.PP',
    'A \\fIdomain\\fR argument is a domain id or a domain name, as for \\fBxl\\fR.',
    'Global options may come before or after the command.',
    '.SH COMMANDS',
    ...program.commands.flatMap(commandEntry),
    '.SH GLOBAL OPTIONS',
    ...program.options.flatMap(optionEntry),
    '.SH EXIT STATUS',
    ...exitStatuses().flatMap(([code, meaning]) => ['.TP', `.B ${code}`, text(meaning)]),
    '.SH ENVIRONMENT',
    ...ENVIRONMENT.flatMap(({ name, description }) => ['.TP', `.B ${roff(name)}`, text(description)]),
    '.SH FILES',
    ...files.flatMap(([file, description]) => ['.TP', `.I ${roff(file)}`, text(description)]),
    '.SH SEE ALSO',
    ...SEE_ALSO.map((page, index) => {
      const [, name, section] = /^(.+)\((\d)\)$/.exec(page)!;
      return `.BR ${roff(name!)} (${section})${index < SEE_ALSO.length - 1 ? ',' : ''}`;
    }),
    '',
  ].join('\n');
}

function commandEntry(command: CommandOutline): string[] {
  const options = command.options.filter((option) => !isHelp(option));
  const synopsis = [
    `\\fB${roff(command.name)}\\fR`,
    ...options.map((option) => `[\\fB${roff(option.names[0]!)}\\fR]`),
    ...command.arguments.map(argumentTerm),
  ].join(' ');
  return [
    '.TP',
    synopsis,
    text(command.description),
    ...(options.length > 0 || command.notes ? ['.RS', ...options.flatMap(optionEntry), ...notes(command.notes), '.RE'] : []),
  ];
}

function argumentTerm(argument: ArgumentOutline): string {
  const term = argument.choices
    ? argument.choices.map((choice) => `\\fB${roff(choice)}\\fR`).join('|')
    : `\\fI${roff(argument.name)}\\fR${argument.variadic ? '...' : ''}`;
  return argument.required ? term : `[${term}]`;
}

function optionEntry(option: OptionOutline): string[] {
  const names = option.names.map((name) => `\\fB${roff(name)}\\fR`).join(', ');
  const value = option.value === undefined ? '' : ` \\fI${roff(option.value)}\\fR`;
  const fallback = option.default === undefined ? '' : ` (default: ${option.default})`;
  return ['.TP', `${names}${value}`, text(`${option.description}${fallback}`)];
}

/** A command's further help: running text, and its indented lines (commands to type) kept as they are. */
function notes(source: string): string[] {
  const groups: { literal: boolean; lines: string[] }[] = [];
  for (const line of source.split('\n')) {
    const literal = line.startsWith(' ');
    if (groups.at(-1)?.literal !== literal) groups.push({ literal, lines: [] });
    groups.at(-1)!.lines.push(line);
  }
  return groups.flatMap(({ literal, lines }) => {
    if (literal) return ['.RS 4', '.nf', ...lines.map(text), '.fi', '.RE'];
    const paragraph = text(lines.join('\n'));
    return paragraph ? ['.PP', paragraph] : [];
  });
}

const isHelp = (option: OptionOutline): boolean => option.names.includes('--help');

/** The lines of EXIT_CODE_HELP ("  2  usage error: …"), the table --help prints. */
function exitStatuses(): [string, string][] {
  return [...EXIT_CODE_HELP.matchAll(/^ +(\d+) +(.+)$/gm)].map((match) => [match[1]!, match[2]!]);
}

/**
 * Running text: escaped, `code` in bold, lines without the indentation and
 * blank lines roff would keep, none read as a request (a leading '.' or "'").
 */
function text(source: string): string {
  return source
    .split('`')
    .map((part, index) => (index % 2 === 1 ? `\\fB${roff(part)}\\fR` : roff(part)))
    .join('')
    .split('\n')
    .map((line) => line.trimStart())
    .filter((line) => line !== '')
    .map((line) => (/^[.']/.test(line) ? `\\&${line}` : line))
    .join('\n');
}

/** Escapes for roff: backslashes, minus signs (so options and paths copy as typed), and non-ASCII characters. */
function roff(source: string): string {
  return source
    .replaceAll('\\', '\\e')
    .replaceAll('-', '\\-')
    .replace(/[^\x20-\x7e\n]/gu, (char) => `\\[u${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}
