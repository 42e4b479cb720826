// `npm run build:man` (part of build:ts): writes the man page to MAN_PAGE in
// the package root, from the command tree the built command line runs.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { packageRoot } from '../util/package-root.js';
import { MAN_PAGE, manPage } from './manpage.js';
import { outline } from './outline.js';
import { createProgram, packageVersion } from './program.js';

const file = join(packageRoot(), MAN_PAGE);
mkdirSync(dirname(file), { recursive: true });
writeFileSync(file, manPage(outline(createProgram()), packageVersion()));
