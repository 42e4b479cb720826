// Finds the golden libxl-json files: the ones committed under test/config/goldens and,
// when present, the live ones in ../shared/fakexen/golden.
import { existsSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { packageRoot } from '../../lib/util/package-root.js';

export interface GoldenFile {
  name: string;
  path: string;
  /** how the file was made, which says how to read it */
  form: 'config' | 'list' | 'disk' | 'nic' | 'vtpm' | 'usbctrl' | 'usbdev' | 'pci' | 'channel';
  /** xl printed "<kind>: " before the JSON */
  prefixed: boolean;
}

export const committedGoldenDir = resolve(packageRoot(), 'test', 'config', 'goldens');
export const sharedGoldenDir = resolve(packageRoot(), '..', 'shared', 'fakexen', 'golden');

const DEVICE_PREFIX: Record<string, GoldenFile['form']> = {
  'block-attach': 'disk', 'network-attach': 'nic', 'vtpm-attach': 'vtpm', 'usbctrl-attach': 'usbctrl',
  'usbdev-attach': 'usbdev', 'pci-attach': 'pci', 'channel': 'channel',
};

function formOf(name: string): Pick<GoldenFile, 'form' | 'prefixed'> | undefined {
  if (!/\.(json|libxl-json|raw)$/.test(name)) return undefined;
  const prefixed = name.endsWith('.raw');
  if (name.includes('list-l')) return { form: 'list', prefixed };
  for (const [prefix, form] of Object.entries(DEVICE_PREFIX)) if (name.startsWith(prefix)) return { form, prefixed };
  return { form: 'config', prefixed };
}

/** Golden files (recursively) under `dir`. */
export function goldenFiles(dir: string): GoldenFile[] {
  if (!existsSync(dir)) return [];
  const out: GoldenFile[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'cfg') out.push(...goldenFiles(path).map((g) => ({ ...g, name: `${entry.name}/${g.name}` })));
      continue;
    }
    const form = formOf(entry.name);
    if (form) out.push({ name: entry.name, path, ...form });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}
