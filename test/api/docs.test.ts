// The public API as users get it. TypeDoc over the package's entry points
// (typedoc.config.js, as `npm run docs` runs it) meets no type a public
// signature uses that the entry leaves unexported, nor an internal one; and the
// declarations tsc emitted for the entry (stripInternal dropping the @internal
// parts) compile on their own with the library check on, as a consumer's
// `tsc` without skipLibCheck reads them.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Application, Logger, LogLevel, ReflectionKind } from 'typedoc';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** Keeps what TypeDoc warns about, to show it in the failure. */
class CollectingLogger extends Logger {
  readonly problems: string[] = [];
  override log(message: string, level: LogLevel): void {
    super.log(message, level);
    if (level >= LogLevel.Warn) this.problems.push(message);
  }
}

describe('public API declarations', () => {
  it('TypeDoc over the package entry points: no warnings, no errors', async () => {
    const app = await Application.bootstrapWithPlugins({ options: `${root}typedoc.config.js` });
    const logger = new CollectingLogger();
    app.logger = logger;
    const project = await app.convert();
    expect(project, 'TypeDoc converted the entry points').toBeDefined();
    app.validate(project!);
    expect(logger.problems).toEqual([]);
    // The public names are documented: a sample of classes, functions, option, result and error types.
    const names = new Set(project!.children!.map((child) => child.name));
    for (const name of ['XenHost', 'XenStore', 'ConfigMirror', 'parseDomainConfig', 'DomainConfig', 'XenHostOptions', 'StoreOptions', 'RetrievedDomain', 'DeviceReport', 'TemplateErrorDetails', 'HotplugError']) {
      expect(names, name).toContain(name);
    }
    // The README's layer table links each layer to its page: each page is one TypeDoc makes.
    const linked = [...readFileSync(`${root}README.md`, 'utf8').matchAll(/\(docs\/api\/(classes|functions)\/(\w+)\.html\)/g)];
    expect(linked.length).toBeGreaterThanOrEqual(5);
    for (const [, kind, name] of linked) {
      const reflection = project!.children!.find((child) => child.name === name);
      expect(reflection?.kind, `${kind}/${name}`).toBe(kind === 'classes' ? ReflectionKind.Class : ReflectionKind.Function);
    }
  }, 120_000);

  it('the emitted declarations of each entry point compile on their own', () => {
    const pkg = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { exports: Record<string, { types: string }> };
    const entries = Object.values(pkg.exports).map((entry) => `${root}${entry.types}`);
    const program = ts.createProgram(entries, {
      strict: true,
      noEmit: true,
      skipLibCheck: false,
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      types: ['node'],
      typeRoots: [`${root}node_modules/@types`],
    });
    const diagnostics = ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
    expect(diagnostics).toEqual([]);
    // Internals stay out of what users compile against: the addon's connection under XenStore,
    // the context a mirror is made from, a device kind's recipes.
    const declared = (path: string) => program.getSourceFile(`${root}dist/lib/${path}`)!.text;
    expect(declared('xenstore/xenstore.d.ts') + declared('xenstore/ops.d.ts')).not.toMatch(/Native|protected/);
    expect(declared('mirror/mirror.d.ts')).not.toMatch(/RetrieveContext|static create/);
    expect(declared('mirror/mirror.d.ts')).toContain('private constructor();');
    expect(declared('devices/kind.d.ts')).toMatch(/interface DeviceType \{\s*\/\*\*[^]*?readonly identity: string;\s*\}/);
  }, 120_000);
});
