// The library's modules import each other without cycles (type-only imports
// included): each layer can be read, loaded and bundled on its own. Dynamic
// import() (the CLI's commands loaded when they run) is not a module's
// dependency at load time and is left out.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../lib/util/package-root.js';

const LIB = join(packageRoot(), 'lib');

/** The modules a module's import and export declarations name. */
function declaredImports(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest);
  return source.statements.flatMap((statement) => {
    const specifier = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) ? statement.moduleSpecifier : undefined;
    return specifier && ts.isStringLiteral(specifier) ? [specifier.text] : [];
  });
}

/** Every .ts module of lib/ with the lib/ modules it imports or re-exports. */
function importGraph(): Map<string, string[]> {
  const modules = readdirSync(LIB, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.ts'));
  const graph = new Map<string, string[]>();
  for (const module of modules) {
    graph.set(module, declaredImports(join(LIB, module))
      .filter((name) => name.startsWith('.'))
      .map((name) => relative(LIB, resolve(LIB, dirname(module), name)).replace(/\.js$/, '.ts')));
  }
  return graph;
}

/** The cycles of `graph`, each as the path of modules that closes it. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const done = new Set<string>();
  const visit = (module: string, path: string[]): void => {
    if (path.includes(module)) {
      found.push([...path.slice(path.indexOf(module)), module]);
      return;
    }
    if (done.has(module)) return;
    for (const imported of graph.get(module) ?? []) visit(imported, [...path, module]);
    done.add(module);
  };
  for (const module of graph.keys()) visit(module, []);
  return found;
}

describe('lib/ imports', () => {
  it('resolve to modules of lib/', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(80);
    for (const [module, imported] of graph) {
      for (const target of imported) expect(graph.has(target), `${module} imports ${target}`).toBe(true);
    }
  });

  it('form no cycle', () => {
    expect(cycles(importGraph()).map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('would name a cycle', () => {
    expect(cycles(new Map([['a.ts', ['b.ts']], ['b.ts', ['a.ts']], ['c.ts', ['a.ts']]]))).toEqual([['a.ts', 'b.ts', 'a.ts']]);
  });
});
