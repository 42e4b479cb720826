// Every golden made by the real libxl 4.17 parses and regenerates byte for byte.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  formatDevice, formatDomainConfig, formatDomainList, parseDevice, parseDomainConfig, parseDomainList,
  type DeviceKind,
} from '../../lib/config/index.js';
import { committedGoldenDir, goldenFiles, sharedGoldenDir, type GoldenFile } from './golden-files.js';

/** Parses a golden as its form and writes it back the way libxl/xl printed it. */
export function roundTrip(g: GoldenFile, text: string): string {
  if (g.form === 'list') return formatDomainList(parseDomainList(text));
  if (g.form === 'config') return formatDomainConfig(parseDomainConfig(text));
  const kind = g.form as DeviceKind;
  if (!g.prefixed) return `${formatDevice(kind, parseDevice(kind, text))}\n`;
  const m = /^([a-z]+): /.exec(text);
  if (!m) throw new Error(`${g.name}: no "<kind>: " prefix`);
  return `${m[0]}${formatDevice(kind, parseDevice(kind, text.slice(m[0].length)))}\n`;
}

const committed = goldenFiles(committedGoldenDir);
const shared = goldenFiles(sharedGoldenDir);

describe('committed goldens round-trip byte for byte', () => {
  it('has goldens', () => expect(committed.length).toBeGreaterThanOrEqual(18));
  it.each(committed.map((g) => [g.name, g] as const))('%s', (_name, g) => {
    const text = readFileSync(g.path, 'utf8');
    expect(roundTrip(g, text)).toBe(text);
  });
});

describe.skipIf(shared.length === 0)(
  `shared fakexen goldens round-trip (${shared.length ? sharedGoldenDir : 'skipped: ../shared/fakexen/golden not found'})`,
  () => {
    it.each(shared.map((g) => [g.name, g] as const))('%s', (_name, g) => {
      const text = readFileSync(g.path, 'utf8');
      expect(roundTrip(g, text)).toBe(text);
    });
  },
);
