// What a failed command must leave as it found: the whole xenstore tree (as
// the library's readTree gives it) and every file of the userdata folder with
// its bytes. Tests compare a snapshot taken before with one taken after.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { XenStore, XenStoreNode } from '../../lib/xenstore/index.js';

/** Every node under / as "path = value" lines, in xenstored's order. */
export async function xenstoreSnapshot(xenstore: XenStore): Promise<string> {
  const lines: string[] = [];
  const walk = (node: XenStoreNode, path: string) => {
    lines.push(`${path} = ${JSON.stringify(node.value)}`);
    for (const child of node.children) walk(child, path === '/' ? `/${child.name}` : `${path}/${child.name}`);
  };
  const root = await xenstore.readTree('/');
  if (root) walk(root, '/');
  return lines.join('\n');
}

/** Each file of dir (recursively) with its mode and bytes, by path relative to dir. */
export function folderSnapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (sub: string) => {
    for (const name of readdirSync(join(dir, sub)).sort()) {
      const relative = sub === '' ? name : `${sub}/${name}`;
      const stat = statSync(join(dir, relative), { throwIfNoEntry: false });
      if (stat === undefined) continue; // gone since the listing (a lock file another holder released)
      if (stat.isDirectory()) walk(relative);
      else files.set(relative, `${stat.mode.toString(8)} ${readFileSync(join(dir, relative)).toString('base64')}`);
    }
  };
  walk('');
  return files;
}

/** Both snapshots at once. */
export async function hostSnapshot(xenstore: XenStore, dir: string): Promise<{ xenstore: string; folder: Map<string, string> }> {
  return { xenstore: await xenstoreSnapshot(xenstore), folder: folderSnapshot(dir) };
}

/**
 * The folder's data, lock files left aside: they are empty, and every holder creates and
 * removes them by libxl's protocol (a retrieve keeps one, a store's release removes it),
 * so where calls run side by side one call's lock shows in another's snapshot.
 */
export function withoutLockFiles(folder: Map<string, string>): Map<string, string> {
  return new Map([...folder].filter(([name]) => !name.startsWith('userdata-l.')));
}
