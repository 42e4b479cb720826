// Reading libxl-json, driven by the schema table: libxl's *_init and its generated
// *_parse_json (gentypes.py), reimplemented once for every struct; the built-in types'
// parsers are in builtins.ts.
import { BUILTINS, UINT64_MAX, describe, expectInteger, readList, under } from './builtins.js';
import { ConfigError } from './errors.js';
import { JsonNumber, JsonObject, type JsonValue } from './json.js';
import type { EnumType, SchemaType, StructType, UnionType } from './idl.js';
import { NOT_AN_OBJECT, setUnknownKeys, type Obj, type UnknownKey } from './unknown-keys.js';

// ---- per-struct lookup tables, built once ----

interface KeyTarget {
  readonly index: number;
  /** set for a keyed union's "<keyvar>.<arm>" key */
  readonly arm?: string;
}
interface Compiled {
  readonly byKey: Map<string, KeyTarget>;
  /** Makes the struct with libxl's init values (an object literal, so V8 gives every one the same shape). */
  readonly makeDefault: () => Obj;
}
const compiledCache = new WeakMap<StructType, Compiled>();

function compile(t: StructType): Compiled {
  let c = compiledCache.get(t);
  if (c) return c;
  const byKey = new Map<string, KeyTarget>();
  // The default-maker's source: one object literal listing every field in order, nested
  // structs and arrays written out in place, so one call makes the whole tree. Names come
  // from the schema table only.
  const parts: string[] = [];
  t.fields.forEach((f, index) => {
    const type = f[1];
    if (type.kind === 'union') {
      for (const arm of Object.keys(type.arms)) byKey.set(`${type.keyvar}.${arm}`, { index, arm });
      const arm = type.enum.init;
      const armType = arm === null ? undefined : type.arms[arm];
      parts.push(`${JSON.stringify(type.keyvar)}: ${JSON.stringify(arm)}`);
      parts.push(`"u": ${armType ? sourceOf(defaultStruct(armType)) : 'null'}`);
    } else {
      byKey.set(f[0], { index });
      parts.push(`${JSON.stringify(f[0])}: ${sourceOf(defaultsOf(type, f[2]))}`);
    }
  });
  const makeDefault = new Function(`return () => ({ ${parts.join(', ')} });`)() as () => Obj;
  c = { byKey, makeDefault };
  compiledCache.set(t, c);
  return c;
}

/** Source of an expression making a fresh copy of a default value (primitives, bigints, arrays, plain objects). */
function sourceOf(value: unknown): string {
  if (typeof value === 'bigint') return `${value}n`;
  if (Array.isArray(value)) return `[${value.map(sourceOf).join(', ')}]`;
  if (typeof value === 'object' && value !== null) {
    return `{ ${Object.entries(value).map(([key, v]) => `${JSON.stringify(key)}: ${sourceOf(v)}`).join(', ')} }`;
  }
  return JSON.stringify(value);
}

// ---- defaults (libxl's *_init) ----

/** A fresh value of a schema type with libxl's init values (every field present). */
export function defaultsOf(t: SchemaType, init?: number | bigint): unknown {
  switch (t.kind) {
    case 'int':
    case 'uint64':
      return init ?? t.init;
    case 'enum':
      return t.init;
    case 'struct':
      return defaultStruct(t);
    case 'array':
      return [];
    case 'union':
      throw new TypeError('a keyed union has no value of its own');
    default:
      return BUILTINS[t.kind].init();
  }
}

function defaultStruct(t: StructType): Obj {
  return compile(t).makeDefault();
}

// ---- parsing (libxl's *_parse_json) ----

/** Marks a key libxl treats as absent: its JSON type is not the field's (libxl__json_map_get). */
const ABSENT = Symbol('absent');

/**
 * Reads a struct into `obj` (a fresh default one unless given: the default a parent made
 * for this field). Anything but an object reads as all defaults, as in libxl.
 */
export function readStruct(t: StructType, node: JsonValue, obj: Obj = defaultStruct(t)): Obj {
  if (!(node instanceof JsonObject)) return obj;
  const { byKey } = compile(t);
  const { keys, values } = node;
  const seen = new Uint8Array(t.fields.length); // the first of duplicate keys wins
  let anchor = -1;
  let extras: UnknownKey[] | undefined;
  let chosenArmKey: string | undefined;
  for (let k = 0; k < keys.length; k++) {
    const key = keys[k]!;
    const target = byKey.get(key);
    if (target === undefined) {
      (extras ??= []).push({ key, value: values[k]!, after: anchor });
      continue;
    }
    anchor = target.index;
    const value = values[k]!;
    try {
      if (target.arm === undefined) {
        if (seen[target.index]) continue;
        seen[target.index] = 1;
        const f = t.fields[target.index]!;
        const v = readField(f[1], value, obj[f[0]]);
        if (v !== ABSENT) obj[f[0]] = v;
        else (extras ??= []).push({ key, value, after: anchor, expected: expectedOf(f[1]) });
      } else {
        if (key === chosenArmKey) continue;
        if (!(value instanceof JsonObject)) {
          (extras ??= []).push({ key, value, after: anchor, expected: 'an object' });
          continue;
        }
        const union = t.fields[target.index]![1] as UnionType;
        if (chosenArmKey !== undefined) {
          throw new ConfigError('', `one "${union.keyvar}.*" key`, `"${chosenArmKey}" and "${key}" are both present`);
        }
        chosenArmKey = key;
        obj[union.keyvar] = target.arm;
        obj.u = readStruct(union.arms[target.arm]!, value);
      }
    } catch (e) {
      throw under(e, key);
    }
  }
  if (extras) setUnknownKeys(obj, extras);
  return obj;
}

/** What a field of type t accepts, for messages about a key of the wrong JSON type. */
function expectedOf(t: SchemaType): string {
  switch (t.kind) {
    case 'int':
      return `an integer in ${t.min}..${t.max}`;
    case 'uint64':
      return `an integer in 0..${UINT64_MAX}`;
    case 'enum':
      return `one of ${t.values.join(', ')} (${t.name})`;
    case 'struct':
      return 'an object';
    case 'array':
    case 'union':
      return 'an array';
    default:
      return BUILTINS[t.kind].filter?.expected ?? 'an array';
  }
}

function readUint64(node: JsonNumber): bigint {
  const v = BigInt(node.integer());
  if (v < 0n || v > UINT64_MAX) {
    throw new ConfigError('', `an integer in 0..${UINT64_MAX}`, `found ${node.text}`);
  }
  return v;
}

function readEnum(node: string, t: EnumType): string {
  const v = node.toLowerCase(); // libxl__enum_from_string uses strcasecmp
  if (!t.values.includes(v)) throw new ConfigError('', `one of ${t.values.join(', ')} (${t.name})`, `found ${JSON.stringify(node)}`);
  return v;
}

/** A field value, or ABSENT when libxl's type filter skips it; `current` is the field's default. */
function readField(t: SchemaType, node: JsonValue, current: unknown): unknown {
  switch (t.kind) {
    case 'int':
      return node instanceof JsonNumber && node.form === 'integer' ? expectInteger(node, t) : ABSENT;
    case 'uint64':
      // libxl's yajl build skips integers beyond long long here; accepting the whole
      // uint64 range is a deliberate difference (see README).
      return node instanceof JsonNumber && node.form !== 'double' ? readUint64(node) : ABSENT;
    case 'enum':
      return typeof node === 'string' ? readEnum(node, t) : ABSENT;
    case 'struct':
      return node instanceof JsonObject ? readStruct(t, node, current as Obj) : ABSENT;
    case 'array':
      return Array.isArray(node) ? readElement(t, node) : ABSENT;
    case 'union':
      return ABSENT;
    default: {
      const builtin = BUILTINS[t.kind];
      return builtin.filter === undefined || builtin.filter.accepts(node) ? builtin.read(node) : ABSENT;
    }
  }
}

/** A value with no type filter (array elements, and fields once their JSON type matched). */
function readElement(t: SchemaType, node: JsonValue): unknown {
  switch (t.kind) {
    case 'int':
      return expectInteger(node, t);
    case 'uint64':
      if (node instanceof JsonNumber && node.form !== 'double') return readUint64(node);
      throw new ConfigError('', `an integer in 0..${UINT64_MAX}`, `found ${describe(node)}`);
    case 'enum':
      if (typeof node === 'string') return readEnum(node, t);
      throw new ConfigError('', `a string naming a ${t.name}`, `found ${describe(node)}`);
    case 'struct': {
      const obj = readStruct(t, node);
      if (!(node instanceof JsonObject)) Object.defineProperty(obj, NOT_AN_OBJECT, { value: node, enumerable: false, configurable: true });
      return obj;
    }
    case 'array':
      return readList(node, (item) => readElement(t.of, item));
    case 'union':
      throw new TypeError('a keyed union is read with its struct');
    default:
      return BUILTINS[t.kind].read(node);
  }
}
