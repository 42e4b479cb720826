// Measures parse + format of a typical PV template (list -l does this per domain). It only
// reports the time; no assertion depends on it.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDomainConfig, formatDomainList, parseDomainConfig } from '../../lib/config/index.js';
import { committedGoldenDir } from './golden-files.js';

const ROUNDS = Number(process.env.XEN_DOMCONFIG_SPEED_ROUNDS ?? 2000);

describe('speed', () => {
  it.each([
    ['PV template', 'shared/real-userdata-1-after-attach.libxl-json'],
    ['full PV config', 'oracle/create-pv-full.json'],
  ])('parse + format of a %s', (_what, name) => {
    const text = readFileSync(join(committedGoldenDir, name), 'utf8');
    for (let k = 0; k < 200; k++) formatDomainConfig(parseDomainConfig(text)); // warm up
    let parseNs = 0n;
    let formatNs = 0n;
    for (let k = 0; k < ROUNDS; k++) {
      const t0 = process.hrtime.bigint();
      const c = parseDomainConfig(text);
      const t1 = process.hrtime.bigint();
      const out = formatDomainConfig(c);
      formatNs += process.hrtime.bigint() - t1;
      parseNs += t1 - t0;
      if (out.length !== text.length) expect(out).toBe(text);
    }
    const us = (ns: bigint): string => (Number(ns) / ROUNDS / 1000).toFixed(1);
    console.log(`${name} (${text.length} bytes): parse ${us(parseNs)} µs, format ${us(formatNs)} µs per template`);
  });

  it('formats list -l for 1000 domains', () => {
    const config = parseDomainConfig(readFileSync(join(committedGoldenDir, 'shared/real-userdata-1-after-attach.libxl-json')));
    const list = Array.from({ length: 1000 }, (_, k) => ({ domid: k + 1, config }));
    const t0 = process.hrtime.bigint();
    const text = formatDomainList(list);
    console.log(`list -l of 1000 domains: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms, ${text.length} bytes`);
    expect(text.startsWith('[\n    {\n        "domid": 1,')).toBe(true);
  });
});
