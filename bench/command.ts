// The command as a user runs it: bin/xen-domconfig (the file npm links), on
// this process's Node, without NODE_EXTRA_CA_CERTS, which makes Node read and
// parse the whole bundle of CA certificates as it starts (≈ 80 ms on this
// machine kind, where the variable is set), for TLS that the command never
// opens; a Xen host's dom0 does not set it.
import { existsSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { packageRoot } from '../lib/util/package-root.js';

export const COMMAND = join(packageRoot(), 'bin/xen-domconfig');

const BUNDLE = join(packageRoot(), 'dist/bin/xen-domconfig.js');

/** The environment of Node processes (the command, Node's own start): the `node` on PATH is this one. */
export const NODE_PROCESS_ENV: NodeJS.ProcessEnv = (({ NODE_EXTRA_CA_CERTS: _unused, ...rest }) => ({
  ...rest, PATH: [dirname(process.execPath), rest.PATH ?? ''].join(delimiter),
}))(process.env);

export function checkCommandBuilt(): void {
  if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} is missing: build first (npm run build:ts)`);
}
