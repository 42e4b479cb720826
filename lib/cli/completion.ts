// Shell completion scripts (`xen-domconfig completion bash|zsh`), made from the
// program's outline: commands, their options and arguments, and the global
// options. Domain arguments complete to the running domains' names (or ids),
// which the script asks `xen-domconfig list` for on the xenstored the command
// line names; without an answer within two seconds, it offers nothing.
import type { ArgumentOutline, CommandOutline, OptionOutline, ProgramOutline } from './outline.js';


/** How a value is completed, from the name commander knows it by ('<domain>', '--userdata-dir <dir>'). */
const VALUE_KINDS: Record<string, string> = {
  domain: 'domain',
  domains: 'domain',
  domid: 'domid',
  file: 'file',
  path: 'file',
  dir: 'directory',
  command: 'command',
};

/** Values named otherwise are completed to nothing; a choice list is offered as words. */
function kindOf(name: string, choices?: readonly string[]): string {
  if (choices) return `words:${choices.join(' ')}`;
  return VALUE_KINDS[name] ?? 'none';
}

const argumentKind = (argument: ArgumentOutline): string => kindOf(argument.name, argument.choices);

/** Options also accepted after a command: the global ones but --version (help is each command's own). */
function globalsAfterCommand(program: ProgramOutline): OptionOutline[] {
  return program.options.filter((option) => !option.names.includes('--version') && !option.names.includes('--help'));
}

/** Options whose value names the xenstored and userdata folder to ask for domain names. */
const connectionOptions = (program: ProgramOutline): OptionOutline[] => program.options.filter((option) => option.value !== undefined);

const SCRIPTS = { bash: bashScript, zsh: zshScript };

/** The shells this module writes a script for. */
export type Shell = keyof typeof SCRIPTS;

export function completionScript(shell: Shell, program: ProgramOutline): string {
  return SCRIPTS[shell](program);
}

// ------------------------------------------------------------------ bash

const quote = (text: string): string => `'${text.replaceAll("'", "'\\''")}'`;
const words = (options: OptionOutline[]): string => options.flatMap((option) => option.names).join(' ');

function bashScript(program: ProgramOutline): string {
  const fn = `_${program.name.replaceAll('-', '_')}`;
  // A command may redeclare an option: each is completed once.
  const valueOptions = uniqueBy(
    [...program.options, ...program.commands.flatMap((command) => command.options)].filter((option) => option.value !== undefined),
    (option) => option.names.join('|'),
  );
  const valueNames = valueOptions.flatMap((option) => option.names).join('|');
  const valueCases = valueOptions.map((option) => `            ${option.names.join('|')}) ${fn}_values ${quote(kindOf(option.value!))} ;;`);
  const commandCases = program.commands.map((command) => {
    const kinds = command.arguments.map((argument) => quote(argumentKind(argument)));
    const variadic = command.arguments.at(-1)?.variadic ? 'yes' : '';
    return `        ${command.name}) options=${quote(words(command.options))}; arguments=(${kinds.join(' ')}); variadic=${quote(variadic)} ;;`;
  });
  return `# bash completion for ${program.name}, made by \`${program.name} completion bash\`:
# commands, options, and the names of running domains (from \`${program.name} list\`).

# Completes the current word ($cur of the caller) as a value of KIND: domain,
# domid, file, directory, command, none, or words:W1 W2…
${fn}_values() {
    case $1 in
        domain|domid) mapfile -t COMPREPLY < <(compgen -W "$(${fn}_domains "$1")" -- "$cur") ;;
        file) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
        directory) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
        command) mapfile -t COMPREPLY < <(compgen -W ${quote(program.commands.map((command) => command.name).join(' '))} -- "$cur") ;;
        words:*) mapfile -t COMPREPLY < <(compgen -W "\${1#words:}" -- "$cur") ;;
    esac
}

# The running domains' names, or their ids for a domid or a word starting with a
# digit, as \`list\` prints them on the xenstored of the command line being completed.
${fn}_domains() {
    local column=1 name id rest
    [[ $1 == domid || $cur == [0-9]* ]] && column=2
    timeout 2 "\${COMP_WORDS[0]}" "\${connection[@]}" --quiet list 2>/dev/null | {
        read -r _ # the header
        while read -r name id rest; do
            if ((column == 1)); then echo "$name"; else echo "$id"; fi
        done
    }
}

${fn}() {
    local cur=\${COMP_WORDS[COMP_CWORD]} command='' option='' word i position=0
    local -a connection=()
    COMPREPLY=()
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=\${COMP_WORDS[i]}
        [[ $word == = ]] && continue # --option=value is split at '='
        if [[ -n $option ]]; then
            case $option in ${connectionOptions(program).map((o) => o.names.join('|')).join('|') || '""'}) connection+=("$option" "$word") ;; esac
            option=''
            continue
        fi
        case $word in
            ${valueNames ? `${valueNames}) option=$word ;;` : ''}
            -?*) ;;
            *) if [[ -z $command ]]; then command=$word; else position=$((position + 1)); fi ;;
        esac
    done
    if [[ -n $option ]]; then
        case $option in
${valueCases.join('\n')}
        esac
        return 0
    fi

    local options arguments=() variadic=''
    case $command in
        '') options=${quote(words(program.options))} ;;
${commandCases.join('\n')}
        *) return 0 ;;
    esac
    if [[ $cur == -* ]]; then
        [[ -n $command ]] && options+=${quote(` ${words(globalsAfterCommand(program))}`)}
        mapfile -t COMPREPLY < <(compgen -W "$options" -- "$cur")
    elif [[ -z $command ]]; then
        ${fn}_values command
    elif ((position < \${#arguments[@]})); then
        ${fn}_values "\${arguments[position]}"
    elif [[ -n $variadic ]]; then
        ${fn}_values "\${arguments[\${#arguments[@]} - 1]}"
    fi
    return 0
}

complete -F ${fn} ${program.name}
`;
}

/** The first item of each key. */
function uniqueBy<T>(items: T[], key: (item: T) => string): T[] {
  const byKey = new Map<string, T>();
  for (const item of items) if (!byKey.has(key(item))) byKey.set(key(item), item);
  return [...byKey.values()];
}

// ------------------------------------------------------------------ zsh

/** An _arguments description: ']' and '\' escaped (':' is fine inside the brackets). */
const bracketed = (text: string): string => `[${text.replaceAll('\\', '\\\\').replaceAll(']', '\\]').replaceAll('[', '\\[')}]`;

/** The action that completes a value of KIND (the helpers are the script's own). */
function zshAction(kind: string, fn: string): string {
  if (kind.startsWith('words:')) return `(${kind.slice('words:'.length)})`;
  switch (kind) {
    case 'domain':
    // In braces: run as written, without the label options _arguments puts before a plain function's arguments.
    case 'domid': return `{${fn}_domains ${kind}}`;
    case 'file': return '_files';
    case 'directory': return '_files -/';
    case 'command': return `${fn}_commands`;
    default: return ' ';
  }
}

/** One _arguments spec per option: '(-q --quiet)'{-q,--quiet}'[print only …]'. */
function zshOptionSpec(option: OptionOutline, fn: string): string {
  // --version and --help end the command line: nothing else is offered with them.
  const exclusive = option.names.includes('--version') || option.names.includes('--help');
  const excludes = exclusive ? '(- *)' : option.names.length > 1 ? `(${option.names.join(' ')})` : '';
  const value = option.value === undefined ? '' : `:${option.value}:${zshAction(kindOf(option.value), fn)}`;
  const names = option.names.map((name) => (option.value === undefined ? name : name.startsWith('--') ? `${name}=` : `${name}+`));
  const explanation = `${bracketed(option.description)}${value}`;
  return names.length > 1
    ? `${excludes ? quote(excludes) : ''}{${names.join(',')}}${quote(explanation)}`
    : quote(`${excludes}${names[0]}${explanation}`);
}

function zshArgumentSpec(argument: ArgumentOutline, fn: string): string {
  const action = zshAction(argumentKind(argument), fn);
  const position = argument.variadic ? '*' : argument.required ? '' : ':';
  return quote(`${position}:${argument.name}:${action}`);
}

function zshCommandCase(command: CommandOutline, fn: string): string {
  const specs = [
    '$globals',
    ...command.options.map((option) => zshOptionSpec(option, fn)),
    ...command.arguments.map((argument) => zshArgumentSpec(argument, fn)),
  ];
  return `        (${command.name}) _arguments -s -S \\\n            ${specs.join(' \\\n            ')} && ret=0 ;;`;
}

function zshScript(program: ProgramOutline): string {
  const fn = `_${program.name}`;
  const commandList = program.commands.map((command) => quote(`${command.name.replaceAll(':', '\\:')}:${command.description}`));
  const connection = connectionOptions(program).flatMap((option) => option.names.filter((name) => name.startsWith('--')));
  const globals = globalsAfterCommand(program);
  const endingOptions = program.options.filter((option) => !globals.includes(option));
  return `#compdef ${program.name}
# zsh completion for ${program.name}, made by \`${program.name} completion zsh\`:
# commands, options, and the names of running domains (from \`${program.name} list\`).
# Put it in a folder of $fpath as ${fn}, or source it after compinit.

${fn}_commands() {
    local -a commands=(
        ${commandList.join('\n        ')}
    )
    _describe -t commands '${program.name} command' commands
}

# The running domains, as \`list\` prints them on the xenstored of the command
# line being completed: names (ids for a domid), each described by the other.
${fn}_domains() {
    local -a domains fields
    local row
    for row in \${(f)"$(timeout 2 $program $connection --quiet list 2>/dev/null)"}; do
        fields=(\${=row})
        [[ $fields[2] == <-> ]] || continue # the header
        if [[ $1 == domid ]]; then domains+=("$fields[2]:$fields[1]"); else domains+=("$fields[1]:domain $fields[2]"); fi
    done
    _describe -t domains "\${1/domid/domain id}" domains
}

${fn}() {
    local program=$words[1] curcontext=$curcontext state state_descr line option ret=1
    local -a connection
    typeset -A opt_args
    # Accepted before and after the command.
    local -a globals=(
        ${globals.map((option) => zshOptionSpec(option, fn)).join('\n        ')}
    )
    _arguments -C -s -S \\
        $globals \\
        ${endingOptions.map((option) => zshOptionSpec(option, fn)).join(' \\\n        ')} \\
        '1:command:->command' \\
        '*::argument:->argument' && ret=0
    for option in ${connection.join(' ')}; do
        [[ -n \${opt_args[$option]} ]] && connection+=("$option" "\${(Q)opt_args[$option]}")
    done
    case $state in
    (command) ${fn}_commands && ret=0 ;;
    (argument)
        curcontext=\${curcontext%:*:*}:${program.name}-$line[1]:
        case $line[1] in
${program.commands.map((command) => zshCommandCase(command, fn)).join('\n')}
        esac ;;
    esac
    return ret
}

# Loaded from $fpath, this file is the body of ${fn}: the definition above
# replaces it, and completes now. Sourced, it registers ${fn}.
if [[ $funcstack[1] == ${fn} ]]; then
    ${fn} "$@"
else
    compdef ${fn} ${program.name}
fi
`;
}
