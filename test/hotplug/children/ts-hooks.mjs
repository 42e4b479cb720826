// Module hooks that let a plain `node` child process run the project's
// TypeScript sources: `./x.js` imports resolve to `./x.ts`, and .ts files are
// transpiled with the project's own typescript (cached on disk by content).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const cacheDir = join(tmpdir(), 'xen-domconfig-ts-cache');
let typescript;

export async function resolve(specifier, context, nextResolve) {
  const relative = specifier.startsWith('.') || specifier.startsWith('/') || specifier.startsWith('file:');
  if (context.parentURL?.endsWith('.ts') && relative && specifier.endsWith('.js')) {
    const tsUrl = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(tsUrl)) && !existsSync(fileURLToPath(new URL(specifier, context.parentURL)))) {
      return { url: tsUrl.href, shortCircuit: true };
    }
  }
  return nextResolve(specifier, context);
}

export async function load(url, context, nextLoad) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return nextLoad(url, context);
  const source = readFileSync(fileURLToPath(url), 'utf8');
  const cached = join(cacheDir, `${createHash('sha256').update(url).update('\0').update(source).digest('hex')}.js`);
  if (!existsSync(cached)) {
    typescript ??= (await import('typescript')).default;
    const { outputText } = typescript.transpileModule(source, {
      fileName: fileURLToPath(url),
      compilerOptions: { module: typescript.ModuleKind.ESNext, target: typescript.ScriptTarget.ES2022, sourceMap: false },
    });
    mkdirSync(cacheDir, { recursive: true });
    const partial = `${cached}.${process.pid}`;
    writeFileSync(partial, outputText);
    renameSync(partial, cached);
  }
  return { format: 'module', source: readFileSync(cached, 'utf8'), shortCircuit: true };
}
