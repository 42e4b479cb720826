// fast-check arbitraries derived from the schema table: any value libxl could hold.
import fc from 'fast-check';
import { JsonNumber, JsonObject, formatMac, schema, type JsonValue } from '../../lib/config/index.js';
import type { SchemaType, StructType } from '../../lib/config/schema.js';

/** libxl strings are C strings: anything but NUL. */
const cString = fc.string({ unit: 'binary', maxLength: 12 }).map((s) => s.replaceAll('\0', ''));
const policy = (n: number) => fc.array(fc.constantFrom('0', '1', 'x', 'k', 's'), { minLength: n, maxLength: n }).map((a) => a.join(''));
const input = fc.integer({ min: 0, max: 0xfffffffe });
const small = { maxLength: 2 };

export function arbitraryOf(t: SchemaType, inArray = false): fc.Arbitrary<unknown> {
  switch (t.kind) {
    case 'int':
      return fc.oneof(fc.constant(t.init), fc.integer({ min: t.min, max: t.max }));
    case 'uint64':
      return fc.oneof(fc.constant(t.init), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.bigInt({ min: 0n, max: 1n << 20n }));
    case 'bool':
      return fc.boolean();
    case 'string':
      return fc.option(cString, { nil: null });
    case 'defbool':
      return fc.constantFrom('default' as const, true, false);
    case 'uuid':
      return fc.oneof(fc.constant('00000000-0000-0000-0000-000000000000'), fc.uuid());
    case 'mac':
      return fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 }).map(formatMac);
    case 'bitmap':
      return fc.uniqueArray(fc.integer({ min: 0, max: 300 }), { maxLength: 5 }).map((a) => a.sort((x, y) => x - y));
    case 'string_list':
      return fc.array(cString, small);
    case 'key_value_list':
      return fc.array(fc.tuple(cString, fc.option(cString, { nil: null })), small);
    case 'cpuid':
      return fc.record({
        cpuid: fc.array(
          fc.record({
            leaf: input, subleaf: fc.option(input, { nil: null }),
            eax: fc.option(policy(32), { nil: null }), ebx: fc.option(policy(32), { nil: null }),
            ecx: fc.option(policy(32), { nil: null }), edx: fc.option(policy(32), { nil: null }),
          }),
          small,
        ),
        msr: fc.array(fc.record({ index: input, policy: policy(64) }), small),
      });
    case 'ms_vm_genid':
      return fc.oneof(fc.constant(new Array<number>(16).fill(0)), fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 16, maxLength: 16 }));
    case 'enum':
      // in an array libxl cannot read back the null it writes for "no value"
      return fc.constantFrom(...(t.init === null && !inArray ? [null, ...t.values] : t.values));
    case 'struct':
      return structArbitrary(t);
    case 'array':
      return fc.array(arbitraryOf(t.of, true), small);
    case 'union':
      throw new TypeError('unions come with their struct');
  }
}

const structCache = new Map<StructType, fc.Arbitrary<Record<string, unknown>>>();

function structArbitrary(t: StructType): fc.Arbitrary<Record<string, unknown>> {
  let arb = structCache.get(t);
  if (arb) return arb;
  const plain: Record<string, fc.Arbitrary<unknown>> = {};
  let union: fc.Arbitrary<Record<string, unknown>> = fc.constant({});
  for (const f of t.fields) {
    const type = f[1];
    if (type.kind === 'union') {
      const arms: fc.Arbitrary<Record<string, unknown>>[] = Object.entries(type.arms).map(([arm, armType]) =>
        structArbitrary(armType).map((u) => ({ [type.keyvar]: arm, u })));
      if (type.enum.init === null) arms.push(fc.constant({ [type.keyvar]: null, u: null }));
      union = fc.oneof(...arms);
    } else {
      plain[f[0]] = f[2] === undefined ? arbitraryOf(type) : fc.oneof(fc.constant(f[2]), arbitraryOf(type));
    }
  }
  // keep the schema's key order, as parse produces it
  arb = fc.tuple(fc.record(plain), union).map(([p, u]) => {
    const out: Record<string, unknown> = {};
    for (const f of t.fields) {
      if (f[1].kind === 'union') Object.assign(out, u);
      else out[f[0]] = p[f[0]];
    }
    return out;
  });
  structCache.set(t, arb);
  return arb;
}

export const domainConfigArbitrary = structArbitrary(schema.domain_config);

/** Any JSON value, as an unknown key of a newer libxl might hold. */
export const jsonValueArbitrary: fc.Arbitrary<JsonValue> = fc.letrec<{ value: JsonValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    cString,
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }).map((v) => jsonNumber(v.toString())),
    fc.constantFrom('1.5', '-0.25e-3', '6.02E23').map(jsonNumber),
    fc.array(tie('value'), small),
    fc.array(fc.tuple(cString, tie('value')), small).map((e) => new JsonObject(e.map((x) => x[0]), e.map((x) => x[1]))),
  ),
})).value;

function jsonNumber(text: string): JsonNumber {
  if (text.includes('.')) return new JsonNumber(text, 'double');
  const v = BigInt(text);
  return new JsonNumber(text, v < -(2n ** 63n) || v > 2n ** 63n - 1n ? 'big' : 'integer');
}
