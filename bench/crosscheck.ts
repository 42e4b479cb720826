// Checks the benchmark's domains against real libxl: the xenstore subtree of
// one populated domain against the same domain made by the real `xl create`
// (keys, permissions, values except run-specific ones), and `xl list -l` of
// the populated state against xen-domconfig's `list -l` of it.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XenStore, type XenStorePermission } from '../lib/xenstore/index.js';
import { benchUuid, xlConfig } from './populate.js';
import type { RealXl } from './realxl.js';

/** Values that differ between any two runs (times, event channels, grant refs, console ttys). */
const RUN_SPECIFIC = /\/(start_time|tty|port|ring-ref|limit|uuid)$|^\/local\/domain\/\d+\/(console|store)\//;

export interface NodeInfo { value: string; perms: string }

/** xenstore-ls's notation: n/r/w/b and the domid; the first entry is the owner and everyone else's access. */
function permsText(perms: XenStorePermission[]): string {
  const letter = (p: XenStorePermission) => (p.read && p.write ? 'b' : p.read ? 'r' : p.write ? 'w' : 'n');
  return perms.map((p) => `${letter(p)}${p.domid}`).join(',');
}

/** Every node of the domain's own subtrees, its /vm, /libxl and dom0's backends of it, with domid and uuid made generic. */
export async function domainNodes(xenstore: XenStore, domid: number, uuid: string): Promise<Map<string, NodeInfo>> {
  const roots = [`/local/domain/${domid}`, `/libxl/${domid}`, `/vm/${uuid}`,
    ...['vbd', 'vif', 'console'].map((kind) => `/local/domain/0/backend/${kind}/${domid}`)];
  const nodes = new Map<string, NodeInfo>();
  const generic = (text: string) => text
    .replaceAll(uuid, '<uuid>')
    .replace(new RegExp(`(^|/)${domid}(?=/|$)`, 'g'), '$1<domid>');
  const walk = async (path: string): Promise<void> => {
    const value = await xenstore.read(path);
    if (value === undefined) return;
    const perms = (await xenstore.getPermissions(path)).map((p) => (p.domid === domid ? { ...p, domid: -1 } : p));
    nodes.set(generic(path), { value: RUN_SPECIFIC.test(path) ? '<run>' : generic(value), perms: permsText(perms).replaceAll('-1', '<domid>') });
    for (const child of (await xenstore.list(path)) ?? []) await walk(`${path}/${child}`);
  };
  for (const root of roots) await walk(root);
  return nodes;
}

export interface LayoutComparison {
  onlyInXl: string[];
  onlyInOurs: string[];
  permissionDiffs: string[];
  valueDiffs: string[];
}

export function compareNodes(xl: Map<string, NodeInfo>, ours: Map<string, NodeInfo>): LayoutComparison {
  const result: LayoutComparison = { onlyInXl: [], onlyInOurs: [], permissionDiffs: [], valueDiffs: [] };
  for (const [path, node] of xl) {
    const mine = ours.get(path);
    if (!mine) { result.onlyInXl.push(path); continue; }
    if (mine.perms !== node.perms) result.permissionDiffs.push(`${path}: xl (${node.perms}) ours (${mine.perms})`);
    if (mine.value !== node.value) result.valueDiffs.push(`${path}: xl ${JSON.stringify(node.value)} ours ${JSON.stringify(mine.value)}`);
  }
  for (const path of ours.keys()) if (!xl.has(path)) result.onlyInOurs.push(path);
  return result;
}

/** Creates domain 1 with the benchmark's config under a fresh fakexen instance and reads its nodes. */
export async function xlCreatedNodes(real: RealXl): Promise<Map<string, NodeInfo>> {
  const run = join(real.work, 'bench-create');
  const env = { ...process.env, FAKEXEN_WORK: real.work, FAKEXEN_RUN: run };
  const fakexen = (args: string[]) => {
    const result = spawnSync('bash', [join(real.kit, 'fakexen.sh'), ...args], { env, encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`fakexen.sh ${args.join(' ')} failed: ${(result.stderr || result.stdout).trim()}`);
    return result.stdout;
  };
  mkdirSync(run, { recursive: true });
  const config = join(run, 'bench.cfg');
  writeFileSync(config, xlConfig(1));
  fakexen(['start']);
  try {
    fakexen(['xl', 'create', '-e', config]);
    const xenstore = XenStore.open({ path: join(run, 'socket') });
    try {
      return await domainNodes(xenstore, 1, benchUuid(1));
    } finally {
      await xenstore.close();
    }
  } finally {
    fakexen(['stop']);
    rmSync(config, { force: true });
  }
}

/** Paths (a.b[2].c) where two parsed `list -l` outputs differ. */
export function jsonDiffs(a: unknown, b: unknown, path = ''): string[] {
  if (typeof a !== typeof b || Array.isArray(a) !== Array.isArray(b) || (a === null) !== (b === null)) return [path || '.'];
  if (typeof a !== 'object' || a === null) return a === b ? [] : [path || '.'];
  if (Array.isArray(a)) {
    const other = b as unknown[];
    if (a.length !== other.length) return [`${path}.length`];
    return a.flatMap((item, i) => jsonDiffs(item, other[i], `${path}[${i}]`));
  }
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(left), ...Object.keys(right)]);
  return [...keys].flatMap((key) => jsonDiffs(left[key], right[key], `${path}.${key}`));
}
