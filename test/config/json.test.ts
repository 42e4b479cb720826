// parseJson hands most documents to JSON.parse; whatever it takes, it must read exactly as
// the yajl reader does, and hand back everything else.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { JsonObject, jsonEquals, type JsonValue } from '../../lib/config/json.js';
import { MAX_DEPTH, parseJson, parseJsonLikeYajl } from '../../lib/config/json-parse.js';
import { writeJson } from '../../lib/config/json-write.js';
import { jsonValueArbitrary } from './arbitraries.js';
import { committedGoldenDir } from './golden-files.js';

const RUNS = Number(process.env.XEN_DOMCONFIG_PROPERTY_RUNS ?? 300);

function reading(read: (s: string) => JsonValue, text: string): { value: JsonValue } | { error: string } {
  try {
    return { value: read(text) };
  } catch (error) {
    return { error: String(error) };
  }
}

function expectSameReading(text: string): void {
  const yajl = reading(parseJsonLikeYajl, text);
  const fast = reading(parseJson, text);
  expect(fast).toStrictEqual(yajl);
  if ('value' in fast && 'value' in yajl) expect(jsonEquals(fast.value, yajl.value)).toBe(true);
}

describe('parseJson reads as the yajl reader does', () => {
  afterEach(() => vi.restoreAllMocks());

  it('any document written by the yajl writer, compact or beautified', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.string(), jsonValueArbitrary), { maxLength: 6 }), (members) => {
        const text = writeJson(new JsonObject(members.map((m) => m[0]), members.map((m) => m[1])), 0);
        expectSameReading(text);
        expectSameReading(text.replace(/\n */g, ''));
      }),
      { numRuns: RUNS },
    );
  });

  it.each([
    ['-0', '{"a": -0}'], ['a fraction', '{"a": 1.0}'], ['an exponent', '{"a": 1e2, "b": [2E+1]}'],
    ['16 digits', '{"a": 1234567890123456}'], ['past 2^53', '{"a": 9007199254740993}'], ['a big integer', '[-12345678901234567890]'],
    ['a space before a colon', '{"a" : 1}'],
    ['a repeated key', '{"a": 1, "a": 2}'], ['a repeated key with a space before its colon', '{"a" : 1, "a": 2, "b": 3}'],
    ['a key that is an array index', '{"b": 1, "10": 2}'], ['\\u0000', '{"a": "x\\u0000y"}'],
    ['a lone surrogate escape', '{"a": "\\ud800x", "b": "\\udc00"}'], ['\\v and \\f between tokens', '{"a":\v1,\f"b": 2}'],
    ['a number-like string', '{"a": "x\\": 1.5", "b": ", 1e5"}'], ['a bare scalar', '5'], ['a bare string', '"s"'],
    ['text after the value', '{"a": 1} x'], ['no text', ''], ['a trailing comma', '{"a": 1,}'],
    ['__proto__', '{"__proto__": {"x": 1}}'], ['U+2028', '{"a": "\u2028"}'],
    ['nesting at the limit', `${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}`],
    ['nesting past the limit', `${'['.repeat(MAX_DEPTH + 1)}${']'.repeat(MAX_DEPTH + 1)}`],
  ])('%s', (_what, text) => {
    expectSameReading(text);
  });

  it('a typical template is read by JSON.parse', () => {
    const text = readFileSync(join(committedGoldenDir, 'shared/real-userdata-1-after-attach.libxl-json'), 'utf8').replace(/\0.*$/s, '');
    const native = vi.spyOn(JSON, 'parse');
    expectSameReading(text);
    expect(native).toHaveBeenCalledWith(text);
  });
});
