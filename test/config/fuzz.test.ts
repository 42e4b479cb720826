// Mutated golden inputs (byte flips, truncations, insertions, deletions, splices): the codec
// either reads them or throws ConfigError; it never crashes or hangs, and whatever it reads
// it can write again. XEN_DOMCONFIG_FUZZ_RUNS sets the count (default 3000); the seed is
// XEN_DOMCONFIG_FUZZ_SEED or random, and is printed on failure.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  ConfigError, formatDevice, formatDomainConfig, formatDomainList, parseDevice, parseDomainConfig, parseDomainList,
  type DeviceKind,
} from '../../lib/config/index.js';
import { committedGoldenDir, goldenFiles } from './golden-files.js';

const RUNS = Number(process.env.XEN_DOMCONFIG_FUZZ_RUNS ?? 3000);
const SEED = Number(process.env.XEN_DOMCONFIG_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));

/** mulberry32: small, seedable, good enough to pick mutations */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOKENS = ['{', '}', '[', ']', ',', ':', '"', '\\', '\\u', '\\ud800', 'null', 'true', '-', '0', '1e9', '.5',
  '18446744073709551616', '-9223372036854775809', '"type.hvm": {}', '"type.pv": {}', '"max_memkb": -1', '"x": [[[[', '\0',
  '"kind": "svga"', '"avail_vcpus": [99999999, 1]', '"cpuid": {"cpuid": [{}], "msr": 1}', '\u00e9', '\xff'];

type Reader = (bytes: Buffer) => string;

function readerFor(form: string): Reader {
  if (form === 'list') return (b) => formatDomainList(parseDomainList(b));
  if (form === 'config') return (b) => formatDomainConfig(parseDomainConfig(b));
  const kind = form as DeviceKind;
  return (b) => formatDevice(kind, parseDevice(kind, b));
}

const SCALARS = ['0', '-1', '1', '255', '256', '4294967295', '4294967296', '2147483648', '-2147483649',
  '9223372036854775807', '18446744073709551615', '18446744073709551616', '1.5', '1e3', 'true', 'false', 'null',
  '""', '"True"', '"False"', '"<default>"', '"hvm"', '"PV"', '"raw"', '"qcow9"', '"00:16:3e:00:00:01"', '"zz"',
  '"6c15d298-0f76-4d77-993a-d45244fb6993"', '[]', '{}', '[0, 2, 1]', '[-1]', '["x"]', '{"a": null}', '"type.pvh"'];
const VALUE_TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null|\{\s*\}|\[\s*\]/g;

/** Replaces one value-like token: the text usually stays JSON, so the schema walker is hit. */
function replaceToken(input: Buffer, rnd: () => number): Buffer {
  const text = input.toString('latin1');
  const spans = [...text.matchAll(VALUE_TOKEN)];
  if (spans.length === 0) return input;
  const m = spans[Math.floor(rnd() * spans.length)]!;
  const by = SCALARS[Math.floor(rnd() * SCALARS.length)]!;
  return Buffer.from(text.slice(0, m.index) + by + text.slice(m.index + m[0].length), 'latin1');
}

function mutate(input: Buffer, rnd: () => number, corpus: Buffer[]): Buffer {
  if (rnd() < 0.5) {
    let b = input;
    for (let e = 1 + Math.floor(rnd() * 3); e > 0; e--) b = replaceToken(b, rnd);
    return b;
  }
  let b = Buffer.from(input);
  const edits = 1 + Math.floor(rnd() * 4);
  for (let e = 0; e < edits; e++) {
    const at = Math.floor(rnd() * (b.length + 1));
    switch (Math.floor(rnd() * 6)) {
      case 0: // flip a bit
        if (b.length) b[at % b.length]! ^= 1 << Math.floor(rnd() * 8);
        break;
      case 1: // truncate
        b = b.subarray(0, at);
        break;
      case 2: { // insert a token
        const token = Buffer.from(TOKENS[Math.floor(rnd() * TOKENS.length)]!, 'latin1');
        b = Buffer.concat([b.subarray(0, at), token, b.subarray(at)]);
        break;
      }
      case 3: { // delete a run
        const len = Math.floor(rnd() * 16);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + len)]);
        break;
      }
      case 4: { // random byte
        if (b.length) b[at % b.length] = Math.floor(rnd() * 256);
        break;
      }
      default: { // splice a slice of another golden
        const other = corpus[Math.floor(rnd() * corpus.length)]!;
        const from = Math.floor(rnd() * other.length);
        b = Buffer.concat([b.subarray(0, at), other.subarray(from, from + Math.floor(rnd() * 200)), b.subarray(at)]);
      }
    }
  }
  return b;
}

describe('fuzz', () => {
  const inputs = goldenFiles(committedGoldenDir)
    .filter((g) => !g.prefixed)
    .map((g) => ({ name: g.name, bytes: readFileSync(g.path), read: readerFor(g.form) }));

  it(`${RUNS} mutated goldens: only ConfigError, and what is read can be written (seed ${SEED})`, () => {
    expect(inputs.length).toBeGreaterThan(10);
    const rnd = prng(SEED);
    const corpus = inputs.map((i) => i.bytes);
    let accepted = 0;
    let refused = 0;
    for (let run = 0; run < RUNS; run++) {
      const input = inputs[Math.floor(rnd() * inputs.length)]!;
      const bytes = mutate(input.bytes, rnd, corpus);
      try {
        input.read(bytes);
        accepted++;
      } catch (e) {
        if (!(e instanceof ConfigError)) {
          throw new Error(`seed ${SEED}, run ${run}, ${input.name}: ${String(e)}\ninput: ${JSON.stringify(bytes.toString('latin1'))}`);
        }
        refused++;
      }
    }
    expect(accepted + refused).toBe(RUNS);
    console.log(`fuzz: ${RUNS} inputs (seed ${SEED}): ${accepted} read and rewritten, ${refused} ConfigError`);
  });
});
