// Reads xenstore-ls -fp dumps (the fakexen goldens): path, value and
// permissions of every node, as libxl really laid them out.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { XenStorePermission } from '../../lib/xenstore/index.js';
import { packageRoot } from '../../lib/util/package-root.js';

export interface GoldenNode {
  value: string;
  perms: XenStorePermission[];
}

export function goldenDir(): string {
  return resolve(packageRoot(), '..', 'shared', 'fakexen', 'golden');
}

export function hasGolden(name: string): boolean {
  return existsSync(resolve(goldenDir(), name));
}

/** "(n0,r1)" → [{0,none},{1,read}] */
export function parsePerms(text: string): XenStorePermission[] {
  return text.split(',').map((perm) => ({
    domid: Number(perm.slice(1)),
    read: perm[0] === 'r' || perm[0] === 'b',
    write: perm[0] === 'w' || perm[0] === 'b',
  }));
}

export function readGoldenTree(name: string): Map<string, GoldenNode> {
  const nodes = new Map<string, GoldenNode>();
  for (const line of readFileSync(resolve(goldenDir(), name), 'utf8').split('\n')) {
    const match = /^(\S+) = "(.*)"   \(([^)]*)\)$/.exec(line);
    if (match) nodes.set(match[1]!, { value: JSON.parse(`"${match[2]}"`), perms: parsePerms(match[3]!) });
  }
  return nodes;
}

/** The golden nodes under `root` (inclusive), keyed by path. */
export function goldenSubtree(tree: Map<string, GoldenNode>, root: string): Map<string, GoldenNode> {
  return new Map([...tree].filter(([path]) => path === root || path.startsWith(`${root}/`)));
}
