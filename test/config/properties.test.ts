// Property tests over configs generated from the schema table itself.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  domainConfigEquals, formatDomainConfig, formatDomainList, parseDomainConfig, parseDomainList, setUnknownKeys,
  unknownKeysOf, type DomainConfig, type UnknownKey,
} from '../../lib/config/index.js';
import { schema } from '../../lib/config/index.js';
import type { StructType } from '../../lib/config/schema.js';
import { domainConfigArbitrary, jsonValueArbitrary } from './arbitraries.js';

const RUNS = Number(process.env.XEN_DOMCONFIG_PROPERTY_RUNS ?? 300);
const config = domainConfigArbitrary as unknown as fc.Arbitrary<DomainConfig>;

describe('generate then parse', () => {
  it('parse(format(c)) equals c, and formatting it again gives the same text', () => {
    fc.assert(
      fc.property(config, (c) => {
        const text = formatDomainConfig(c);
        const back = parseDomainConfig(text);
        expect(domainConfigEquals(back, c)).toBe(true);
        expect(formatDomainConfig(back)).toBe(text);
      }),
      { numRuns: RUNS },
    );
  });

  it('the same holds for xl list -l output', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 0x7fef }), config), { maxLength: 3 }), (entries) => {
        const list = entries.map(([domid, c]) => ({ domid, config: c }));
        const text = formatDomainList(list);
        const back = parseDomainList(text);
        expect(back.map((e) => e.domid)).toEqual(list.map((e) => e.domid));
        expect(formatDomainList(back)).toBe(text);
      }),
      { numRuns: Math.ceil(RUNS / 3) },
    );
  });
});

/** Struct objects of a config that can carry unknown keys, with their schema. */
function structsOf(c: DomainConfig): [object, StructType][] {
  const out: [object, StructType][] = [[c, schema.domain_config], [c.c_info, schema.domain_create_info],
    [c.b_info, schema.domain_build_info], [c.b_info.sched_params, schema.domain_sched_params]];
  if (c.b_info.type === 'hvm') out.push([c.b_info.u, schema.build_info_hvm], [c.b_info.u.vnc, schema.vnc_info]);
  if (c.b_info.type === 'pv') out.push([c.b_info.u, schema.build_info_pv]);
  for (const d of c.disks) out.push([d, schema.device_disk]);
  for (const n of c.nics) out.push([n, schema.device_nic]);
  return out;
}

const unknownKey = fc.record({
  key: fc.string({ minLength: 1, maxLength: 10 }).map((k) => `x-${k.replaceAll('\0', '')}`),
  value: jsonValueArbitrary,
  after: fc.integer({ min: -1, max: 200 }),
});

describe('parse then generate keeps unknown keys', () => {
  it('unknown keys anywhere come back with their values, and the text is stable', () => {
    fc.assert(
      fc.property(config, fc.array(fc.tuple(fc.nat(), fc.array(unknownKey, { minLength: 1, maxLength: 3 })), { maxLength: 4 }), (c, plan) => {
        const targets = structsOf(c);
        for (const [which, keys] of plan) {
          const [obj, t] = targets[which % targets.length]!;
          const placed: UnknownKey[] = keys
            .map((k) => ({ ...k, after: Math.min(k.after, t.fields.length - 1) }))
            .sort((a, b) => a.after - b.after);
          setUnknownKeys(obj, [...unknownKeysOf(obj), ...placed].sort((a, b) => a.after - b.after));
        }
        const text = formatDomainConfig(c);
        const back = parseDomainConfig(text);
        const backTargets = structsOf(back);
        targets.forEach(([obj], k) => {
          const want = unknownKeysOf(obj).map((u) => [u.key, u.value]);
          // first of duplicate keys wins in libxl too, so compare as the document lists them
          expect(unknownKeysOf(backTargets[k]![0]).map((u) => [u.key, u.value])).toEqual(want);
        });
        expect(formatDomainConfig(back)).toBe(text);
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
  });
});
