// API docs (`npm run docs`, into docs/api) of the package's public entry points:
// each "types" file of package.json's "exports", mapped back to the source tsc
// compiles it from. Internals are tagged @internal, which tsc's stripInternal
// also drops from the published declarations; a warning fails the run
// (test/api/docs.test.ts keeps it at none).
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/** `./dist/lib/index.d.ts` → `lib/index.ts`. */
export const entryPoints = Object.values(pkg.exports).map((entry) => entry.types.replace(/^\.\/dist\/(.+)\.d\.ts$/, '$1.ts'));

/** @type {Partial<import('typedoc').TypeDocOptions>} */
export default {
  entryPoints,
  tsconfig: 'tsconfig.json',
  out: 'docs/api',
  name: pkg.name,
  readme: 'none',
  excludeInternal: true,
  excludePrivate: true,
  // No source links: a clone's remote is no web address to link to (TypeDoc warns of it).
  disableSources: true,
  treatWarningsAsErrors: true,
};
