// What admins expect of a command line, from the built dist/bin/xen-domconfig.js:
// --version, help <command>, shell completion that bash and zsh really load
// and run (domain names from a private real xenstored), and the man page the
// build writes, checked against the command definitions and by man/groff.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../lib/cli/commands.js';
import { EXIT } from '../../lib/cli/errors.js';
import { MAN_PAGE, manPage } from '../../lib/cli/manpage.js';
import { outline } from '../../lib/cli/outline.js';
import { createProgram } from '../../lib/cli/program.js';
import { packageRoot } from '../../lib/util/package-root.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir } from '../domain/fixture.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { CLI, runCli } from './run.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
const work = mkdtempSync(join(tmpdir(), 'xen-domconfig-habits-'));
const manifest = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string; man: string };

/** `xen-domconfig` on PATH, as an installed package puts it: what completion scripts run for domain names. */
const binDir = join(work, 'bin');
const withCommandOnPath = { ...process.env, PATH: `${binDir}:${process.env.PATH}` };

beforeAll(async () => {
  const store = XenStore.open({ path: xs.current.socketPath });
  try {
    await createDomain(store, userdata.dir, { domid: 1, name: 'alpha', type: 'pv' });
    await createDomain(store, userdata.dir, { domid: 12, name: 'beta', type: 'pvh' });
  } finally {
    await store.close();
  }
  mkdirSync(binDir);
  writeFileSync(join(binDir, 'xen-domconfig'), `#!/bin/sh\nexec '${process.execPath}' '${CLI}' "$@"\n`);
  chmodSync(join(binDir, 'xen-domconfig'), 0o755);
});

afterAll(() => {
  userdata.remove();
  rmSync(work, { recursive: true, force: true });
});

/** Each command's option spellings as COMMANDS declares them ('-l, --long' → -l, --long). */
const declaredFlags = (spec: (typeof COMMANDS)[number]): string[] =>
  (spec.options ?? []).flatMap((option) => option.flags.split(/[ ,]+/).filter((word) => word.startsWith('-')));

function lines(text: string): string[] {
  return text.split('\n').filter((line) => line !== '');
}

describe('--version', () => {
  it.each([['--version'], ['-V'], ['--json', '--version']])('%j prints the package version and nothing else', async (...args) => {
    const result = await runCli(args);
    expect(result).toMatchObject({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
  });

  it("prints the version of the package it runs from, installed from the packed tarball", async () => {
    const packed = JSON.parse(execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: packageRoot(), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    })) as [{ filename: string; files: { path: string }[] }];
    // The layout `npm install` gives it (dependencies are not needed: commander is in the bundle).
    const installed = join(work, 'node_modules/xen-domconfig');
    mkdirSync(installed, { recursive: true });
    execFileSync('tar', ['-xzf', join(work, packed[0].filename), '-C', installed, '--strip-components=1']);
    const installedManifest = join(installed, 'package.json');
    // A version this checkout does not have: the command must read its own package's.
    writeFileSync(installedManifest, readFileSync(installedManifest, 'utf8').replace(`"version": "${manifest.version}"`, '"version": "9.8.7-installed"'));
    const fromInstalled = await runCli([join(installed, 'dist/bin/xen-domconfig.js'), '--version'], { command: process.execPath });
    expect(fromInstalled).toMatchObject({ code: 0, stdout: '9.8.7-installed\n', stderr: '' });

    // npm installs the "man" field's page: it is in the package, and is the built one.
    expect(manifest.man).toBe(`./${MAN_PAGE}`);
    expect(packed[0].files.map((file) => file.path)).toContain(MAN_PAGE);
    expect(readFileSync(join(installed, MAN_PAGE), 'utf8')).toBe(readFileSync(join(packageRoot(), MAN_PAGE), 'utf8'));
  });
});

describe('help', () => {
  it.each(COMMANDS.map((spec) => [spec.name, spec.usage]))('`help %s` prints its usage', async (name, usage) => {
    const result = await runCli(['help', name]);
    expect(result.code).toBe(0);
    const [command, ...args] = usage.split(' ');
    expect(result.stdout).toMatch(new RegExp(`^Usage: xen-domconfig ${command} (\\[options\\] )?${args.join(' ').replace(/[.()[\]]/g, '\\$&')}`));
  });

  it('`help completion` says how to install the scripts', async () => {
    const result = await runCli(['help', 'completion']);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('source <(xen-domconfig completion bash)');
    expect(result.stdout).toContain('xen-domconfig completion zsh > /usr/local/share/zsh/site-functions/_xen-domconfig');
  });

  it('an unknown shell is a usage error', async () => {
    const result = await runCli(['completion', 'fish']);
    expect(result.code).toBe(EXIT.USAGE);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^xen-domconfig: .*'fish' is invalid .*bash, zsh/)]);
  });
});

describe('bash completion', () => {
  const script = join(work, 'xen-domconfig.bash');
  beforeAll(async () => {
    const result = await runCli(['completion', 'bash']);
    expect(result.code).toBe(0);
    writeFileSync(script, result.stdout);
  });

  /** Loads the script in bash, then runs the function `complete -p` names for the words, the last one being completed. */
  async function complete(...words: string[]): Promise<string[]> {
    const driver = `source "$1" || exit 9
      function=$(complete -p xen-domconfig) && function=\${function#*-F } && function=\${function%% *}
      COMP_WORDS=("\${@:2}"); COMP_CWORD=$(($# - 2)); COMP_LINE="\${COMP_WORDS[*]}"; COMP_POINT=\${#COMP_LINE}
      "$function" xen-domconfig "\${COMP_WORDS[COMP_CWORD]}" "\${COMP_WORDS[COMP_CWORD-1]}" || exit 8
      printf '%s\\n' "\${COMPREPLY[@]}"`;
    const result = await runCli(['-c', driver, 'bash', script, 'xen-domconfig', ...words], { command: 'bash', env: withCommandOnPath });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    return lines(result.stdout);
  }

  it('registers itself for xen-domconfig', async () => {
    const result = await runCli(['-c', 'source "$1" && complete -p xen-domconfig', 'bash', script], { command: 'bash' });
    expect(result.stdout).toMatch(/^complete -F \S+ xen-domconfig$/m);
  });

  it('completes the commands, then the ones a prefix selects', async () => {
    expect(await complete('')).toEqual([...COMMANDS.map((spec) => spec.name), 'completion', 'help']);
    expect(await complete('bl')).toEqual(['block-attach', 'block-detach', 'block-list']);
    expect(await complete('--json', 'sh')).toEqual(['show-template']);
  });

  it('completes the global options before a command', async () => {
    const offered = await complete('--');
    for (const option of ['--userdata-dir', '--xenstore', '--no-hotplug-scripts', '--json', '--quiet', '--debug', '--version', '--help']) {
      expect(offered).toContain(option);
    }
  });

  it.each(COMMANDS.map((spec) => [spec.name, spec]))("completes %s's own options and the global ones after it", async (name, spec) => {
    const offered = await complete(name, '-');
    expect(offered).toEqual(expect.arrayContaining([...declaredFlags(spec), '-h', '--help', '--xenstore', '--json', '-q']));
    expect(offered).not.toContain('--version');
  });

  it("completes the values of completion's and help's arguments", async () => {
    expect(await complete('completion', '')).toEqual(['bash', 'zsh']);
    expect(await complete('help', 'network-')).toEqual(['network-attach', 'network-detach', 'network-list']);
  });

  it('completes folders for --userdata-dir and files for a file argument', async () => {
    const dir = join(work, 'paths');
    mkdirSync(join(dir, 'sub-a'), { recursive: true });
    mkdirSync(join(dir, 'sub-b'));
    writeFileSync(join(dir, 'sub-file.json'), '{}');
    expect((await complete('--userdata-dir', join(dir, 'sub'))).sort()).toEqual([join(dir, 'sub-a'), join(dir, 'sub-b')]);
    expect((await complete('store', '1', join(dir, 'sub-f')))).toEqual([join(dir, 'sub-file.json')]);
  });

  it("completes domain names from the command line's xenstored, ids for a domid or a digit", async () => {
    const socket = ['--xenstore', xs.current.socketPath];
    expect(await complete(...socket, 'retrieve', '')).toEqual(['alpha', 'beta']);
    expect(await complete(...socket, 'retrieve', 'b')).toEqual(['beta']);
    expect(await complete(...socket, 'diff', '1')).toEqual(['1', '12']);
    expect(await complete(...socket, 'store', '')).toEqual(['1', '12']);
    expect(await complete(...socket, 'list', 'alpha', '')).toEqual(['alpha', 'beta']);
    // the device lists take domains, as many as given (usb-list and pci-list one)
    expect(await complete(...socket, 'block-list', 'alpha', '')).toEqual(['alpha', 'beta']);
    expect(await complete(...socket, 'pci-list', 'b')).toEqual(['beta']);
    // after the domain: a vdev, which it does not guess
    expect(await complete(...socket, 'block-detach', '--force', 'alpha', '')).toEqual([]);
    // the same through XENSTORED_PATH-less --xenstore=PATH, which bash splits at '='
    expect(await complete('--xenstore', '=', xs.current.socketPath, 'show-template', 'a')).toEqual(['alpha']);
  });

  it('offers no domains, and says nothing, when xenstored does not answer', async () => {
    expect(await complete('--xenstore', join(work, 'no-socket'), 'retrieve', '')).toEqual([]);
  });
});

const zsh = ['/usr/bin/zsh', '/bin/zsh'].find((path) => existsSync(path));

describe.skipIf(!zsh)('zsh completion (zsh installed)', () => {
  const folder = join(work, 'zsh-functions');
  const sourced = join(work, 'xen-domconfig.zsh');
  const capture = join(packageRoot(), 'test/cli/zsh-completions.zsh');
  beforeAll(async () => {
    const result = await runCli(['completion', 'zsh']);
    expect(result.code).toBe(0);
    mkdirSync(folder);
    writeFileSync(join(folder, '_xen-domconfig'), result.stdout);
    writeFileSync(sourced, result.stdout);
  });

  const AUTOLOADED = `fpath=(${folder} $fpath); autoload -Uz compinit && compinit -u -D`;
  const SOURCED = `autoload -Uz compinit && compinit -u -D && source ${sourced}`;

  /** The matches one interactive zsh offers at the end of each line in turn, each match once. */
  async function complete(setup: string, ...typed: string[]): Promise<string[][]> {
    const result = await runCli(['-f', capture, setup, ...typed], { command: zsh!, env: withCommandOnPath });
    expect(result.code).toBe(0);
    // Each line's matches end with an empty line.
    const groups: string[][] = [[]];
    for (const line of result.stdout.split('\n').slice(0, -1)) {
      if (line === '') groups.push([]);
      else if (!groups.at(-1)!.includes(line)) groups.at(-1)!.push(line);
    }
    groups.pop();
    expect(groups).toHaveLength(typed.length);
    return groups;
  }

  it('parses', async () => {
    expect((await runCli(['-n', sourced], { command: zsh! })).code).toBe(0);
  });

  it.each([['from $fpath', AUTOLOADED], ['sourced after compinit', SOURCED]])('completes the commands, loaded %s, every time', async (_, setup) => {
    // (The second completion runs the function the first one loaded.)
    expect(await complete(setup, 'xen-domconfig ', 'xen-domconfig bl')).toEqual([
      [...COMMANDS.map((spec) => spec.name), 'completion', 'help'],
      ['block-attach', 'block-detach', 'block-list'],
    ]);
  });

  it('completes global options, then the options of a command', async () => {
    const [globals, list, shells] = await complete(AUTOLOADED, 'xen-domconfig --', 'xen-domconfig list --', 'xen-domconfig completion ');
    expect(globals).toEqual(expect.arrayContaining(['--userdata-dir', '--xenstore', '--json', '--quiet', '--version', '--help']));
    const listFlags = declaredFlags(COMMANDS.find((spec) => spec.name === 'list')!).filter((flag) => flag.startsWith('--'));
    expect(list).toEqual(expect.arrayContaining([...listFlags, '--json', '--help']));
    expect(list).not.toContain('--version');
    expect(shells).toEqual(['bash', 'zsh']);
  });

  it("completes domain names from the command line's xenstored", async () => {
    const prefix = `xen-domconfig --xenstore ${xs.current.socketPath}`;
    expect(await complete(SOURCED, `${prefix} retrieve `, `${prefix} store `, `xen-domconfig --xenstore ${join(work, 'no-socket')} retrieve `))
      .toEqual([['alpha', 'beta'], ['1', '12'], []]);
  });
});

describe('man page', () => {
  const page = join(packageRoot(), MAN_PAGE);

  it('the built page is the one the command definitions make (npm run build:ts writes it)', () => {
    expect(readFileSync(page, 'utf8'), `${MAN_PAGE} is not the current one: npm run build:ts`).toBe(manPage(outline(createProgram()), manifest.version));
  });

  it.skipIf(!existsSync('/usr/bin/groff'))('is roff groff reads without a warning', () => {
    const result = execFileSync('groff', ['-man', '-ww', '-z', page], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    expect(result).toBe('');
  });

  describe.skipIf(!existsSync('/usr/bin/man'))('as man shows it', () => {
    let shown = '';
    beforeAll(async () => {
      const result = await runCli(['--warnings', '-l', page], { command: 'man', env: { ...process.env, MANWIDTH: '300', LC_ALL: 'C.UTF-8' } });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      shown = result.stdout;
    });
    const section = (name: string): string => shown.split(/^(?=[A-Z][A-Z ]+$)/m).find((part) => part.startsWith(`${name}\n`)) ?? '';

    it('has the sections of a command page, in order', () => {
      const headings = shown.match(/^[A-Z][A-Z ]+$/gm);
      expect(headings).toEqual(['NAME', 'SYNOPSIS', 'DESCRIPTION', 'COMMANDS', 'GLOBAL OPTIONS', 'EXIT STATUS', 'ENVIRONMENT', 'FILES', 'SEE ALSO']);
      expect(section('NAME')).toMatch(/xen-domconfig - \S/);
      expect(shown).toContain(`xen-domconfig ${manifest.version}`);
    });

    it('describes every command with its usage and options', () => {
      const commands = section('COMMANDS');
      for (const spec of [...COMMANDS, { name: 'completion', description: 'print the completion script', options: [] }]) {
        expect(commands).toMatch(new RegExp(`^ {7}${spec.name}\\b`, 'm'));
        expect(commands.replace(/\s+/g, ' ')).toContain(spec.description.replaceAll('`', '').replace(/\s+/g, ' '));
        for (const option of spec.options ?? []) expect(commands).toContain(option.flags);
      }
      expect(commands).toMatch(/^ {7}block-attach domain diskspec\.\.\.$/m);
      expect(commands).toMatch(/^ {7}completion bash\|zsh$/m);
      expect(commands).toContain('Mem is the balloon target');
      expect(commands).toContain('source <(xen-domconfig completion bash)');
    });

    it('lists the global options with their values and defaults', () => {
      const options = section('GLOBAL OPTIONS');
      for (const option of ['--userdata-dir dir', '--xenstore path', '--no-hotplug-scripts', '--json', '-q, --quiet', '--debug', '-V, --version', '-h, --help']) {
        expect(options).toMatch(new RegExp(`^ {7}${option.replace(/[.]/g, '\\.')}\\b`, 'm'));
      }
      expect(options).toContain('(default: /var/lib/xen)');
    });

    it('gives every exit code', () => {
      const codes = [...section('EXIT STATUS').matchAll(/^ {7}(\d+)\s/gm)].map((match) => Number(match[1]));
      expect(codes).toEqual([...Object.values(EXIT), 141]);
    });

    it('names environment variables the code reads', () => {
      const names = [...section('ENVIRONMENT').matchAll(/^ {7}([A-Z_]+)$/gm)].map((match) => match[1]!);
      expect(names).toEqual(expect.arrayContaining(['XENSTORED_PATH', 'XENSTORED_RUNDIR', 'XEN_DOMCONFIG_LIBXENSTORE']));
      const sources = execFileSync('grep', ['-rhoE', 'process\\.env(\\.|\\[)[A-Z_]+|getenv\\("[A-Z_]+"\\)', 'lib', 'native'],
        { cwd: packageRoot(), encoding: 'utf8' });
      for (const name of names) expect(sources, name).toMatch(new RegExp(`\\b${name}\\b`));
    });

    it("names libxl's files and the pages to read next", () => {
      expect(section('FILES')).toContain('/var/lib/xen/userdata-d.<domid>.<uuid>.libxl-json');
      expect(section('FILES')).toContain('/var/lib/xen/userdata-l.<domid>.<uuid>.domain-userdata-lock');
      expect(section('SEE ALSO')).toContain('xl(1), xl.cfg(5), xl-disk-configuration(5), xl-network-configuration(5)');
    });
  });
});
