// A device's xenstore nodes as comparable lines, for the tests that hold our
// writes against real libxl's.
import type { XenStore } from '../../lib/xenstore/index.js';

/** Keys the backend and the hotplug scripts write after the toolstack (timing, not configuration). */
const RUNTIME_KEYS = new Set(['state', 'hotplug-status', 'hotplug-error', 'physical-device', 'physical-device-path']);

export interface DevicePaths {
  libxlPath: string;
  frontendPath: string;
  backendPath: string;
}

/** A device's three subtrees as "relative path = value (perms)" lines, runtime keys left out. */
export async function deviceSnapshot(xenstore: XenStore, paths: DevicePaths): Promise<Record<string, string[]>> {
  const result: Record<string, string[]> = {};
  for (const [name, root] of Object.entries(paths)) {
    const lines: string[] = [];
    const walk = async (path: string, relative: string): Promise<void> => {
      const tree = await xenstore.readTree(path);
      if (!tree) return;
      const perms = (await xenstore.getPermissions(path)).map((p) => `${p.read && p.write ? 'b' : p.read ? 'r' : p.write ? 'w' : 'n'}${p.domid}`).join(',');
      if (!RUNTIME_KEYS.has(tree.name) || relative === '') lines.push(`${relative || '.'} = ${JSON.stringify(tree.value)} (${perms})`);
      for (const child of tree.children) await walk(`${path}/${child.name}`, `${relative}/${child.name}`);
    };
    await walk(root, '');
    result[name] = lines.sort();
  }
  return result;
}
