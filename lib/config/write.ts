// Writing libxl-json, driven by the schema table: libxl's generated *_gen_json
// (gentypes.py), one writer compiled per struct; the built-in types' generators are in
// builtins.ts.
import { BUILTINS, UINT64_MAX, describe, under } from './builtins.js';
import { ConfigError } from './errors.js';
import { quote, writeArray, writeJson, writeObject } from './json-write.js';
import type { SchemaType, StructType, UnionType } from './idl.js';
import { NOT_AN_OBJECT, UNKNOWN_KEYS, type Obj, type UnknownKey } from './unknown-keys.js';

type StructWriter = (obj: Obj, depth: number) => string;
/** Each struct's writer, made on its first write: a process that only reads never builds one. */
const writers = new WeakMap<StructType, StructWriter>();

/** Writes a struct as yajl does at `depth`; fields equal to libxl's init value are left out. */
export function writeStruct(t: StructType, obj: Obj, depth: number): string {
  if (obj === null || typeof obj !== 'object') throw new ConfigError('', `an object (${t.name})`, `found ${typeof obj}`);
  const verbatim = obj[NOT_AN_OBJECT];
  if (verbatim !== undefined) return writeJson(verbatim, depth);
  let write = writers.get(t);
  if (!write) writers.set(t, (write = compileWriter(t)));
  return write(obj, depth);
}

/**
 * The struct's writer, generated from its schema fields: one statement per field that reads
 * it by name and leaves it out when it equals libxl's init value (differsFromInit's test,
 * inline); values are written by writeValue. Unknown keys go back after the field they
 * followed. An error names the field it came from.
 */
function compileWriter(t: StructType): StructWriter {
  const names: string[] = [];
  const body = t.fields.map((f, i) => {
    const [name, type, init] = f;
    names.push(name);
    const extras = `if (x) e = writeExtras(x, ${i}, e, m, inner, w);`;
    if (type.kind === 'union') {
      return `at = -1; v = writeUnion(T[${i}], obj, inner); if (v !== undefined) { m.push(v); if (x) w.push(armKey(T[${i}], obj)); } ${extras}`;
    }
    const field = `at = ${i}; v = obj[${JSON.stringify(name)}];`;
    const write = `{ m.push(${JSON.stringify(`${quote(name)}: `)} + writeValue(T[${i}], v, inner)); if (x) w.push(N[${i}]); }`;
    return `${field} if (${differsFromInit(type, init)}) ${write} at = -1; ${extras}`;
  });
  const source = `return (obj, depth) => {
    const inner = depth + 1;
    const m = [];
    const x = obj[UNKNOWN_KEYS];
    const w = x ? [] : null; // keys written, when there are extras: a field written supersedes its verbatim value
    let e = x ? writeExtras(x, -1, 0, m, inner, w) : 0;
    let at = -1;
    let v;
    try {
      ${body.join('\n      ')}
    } catch (err) {
      throw at < 0 ? err : under(err, N[at]);
    }
    return writeObject(m, depth);
  };`;
  return new Function('T', 'N', 'UNKNOWN_KEYS', 'writeExtras', 'writeUnion', 'armKey', 'writeValue', 'writeObject', 'under', source)(
    t.fields.map((f) => f[1]), names, UNKNOWN_KEYS, writeExtras, writeUnion, armKey, writeValue, writeObject, under,
  ) as StructWriter;
}

/** Source of the test that a field (in `v`) is written: gentypes.py's get_default_expr, negated. */
function differsFromInit(t: SchemaType, init: number | bigint | undefined): string {
  switch (t.kind) {
    case 'int':
    case 'uint64': {
      const value = init ?? t.init;
      return `v !== ${typeof value === 'bigint' ? `${value}n` : String(value)}`;
    }
    case 'enum':
      return `v !== ${JSON.stringify(t.init)}`;
    case 'array':
      return '!(Array.isArray(v) && v.length === 0)';
    case 'struct':
      return 'true'; // aggregates are always written, possibly as {}
    case 'union':
      throw new TypeError('a keyed union is written with its struct');
    default:
      return BUILTINS[t.kind].differsFromInit;
  }
}

/** A keyed union's member ("<keyvar>.<arm>": the arm's struct), or undefined when no arm is set. */
function writeUnion(type: UnionType, obj: Obj, depth: number): string | undefined {
  const arm = obj[type.keyvar] as string | null;
  if (arm === null) return undefined;
  const armType = arm === undefined ? undefined : type.arms[arm];
  if (!armType) throw new ConfigError(type.keyvar, `one of ${Object.keys(type.arms).join(', ')}`, `found ${String(arm)}`);
  const key = `${type.keyvar}.${arm}`;
  try {
    return `${quote(key)}: ${writeStruct(armType, obj.u as Obj, depth)}`;
  } catch (err) {
    throw under(err, key);
  }
}

/** The key a keyed union's member is written under. */
function armKey(type: UnionType, obj: Obj): string {
  return `${type.keyvar}.${String(obj[type.keyvar])}`;
}

/** Set while a template is rewritten: a field written over a verbatim value is refused instead. */
let refuseToReplaceVerbatim = false;

function writeExtras(extras: UnknownKey[], after: number, from: number, members: string[], depth: number, written: string[]): number {
  // extras are in document order, so their anchors never decrease
  let e = from;
  for (; e < extras.length && extras[e]!.after <= after; e++) {
    const extra = extras[e]!;
    // A known key of the wrong JSON type stays as it was, unless the field now has a value of its own.
    if (extra.expected !== undefined && written.includes(extra.key)) {
      if (refuseToReplaceVerbatim) {
        throw new ConfigError(extra.key, `${extra.expected} in the template before a value is written over it`,
          `found ${describe(extra.value)}, which a rewrite would lose`);
      }
      continue;
    }
    members.push(`${quote(extra.key)}: ${writeJson(extra.value, depth)}`);
  }
  return e;
}

/**
 * writeStruct for a rewrite of a stored template: a key of the wrong JSON type that the
 * template holds verbatim is written back, and a field written over one is a ConfigError
 * naming it, so that nothing the template holds is lost.
 */
export function writeStructKeepingVerbatim(t: StructType, obj: Obj, depth: number): string {
  refuseToReplaceVerbatim = true;
  try {
    return writeStruct(t, obj, depth);
  } finally {
    refuseToReplaceVerbatim = false;
  }
}

function writeValue(t: SchemaType, v: unknown, depth: number): string {
  switch (t.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < t.min || v > t.max) {
        throw new ConfigError('', `an integer in ${t.min}..${t.max}`, `found ${String(v)}`);
      }
      return String(v);
    case 'uint64':
      if (typeof v !== 'bigint' || v < 0n || v > UINT64_MAX) {
        throw new ConfigError('', `a bigint in 0..${UINT64_MAX}`, `found ${String(v)}`);
      }
      return v.toString();
    case 'enum':
      // libxl__yajl_gen_enum writes null for a value outside the enum (0 where 0 is no member)
      if (v === null && t.init === null) return 'null';
      if (typeof v !== 'string' || !t.values.includes(v)) {
        throw new ConfigError('', `one of ${t.values.join(', ')} (${t.name})`, `found ${String(v)}`);
      }
      return `"${v}"`;
    case 'struct':
      return writeStruct(t, v as Obj, depth);
    case 'array': {
      if (!Array.isArray(v)) throw new ConfigError('', 'an array', `found ${typeof v}`);
      const items = new Array<string>(v.length);
      for (let k = 0; k < v.length; k++) {
        try {
          items[k] = writeValue(t.of, v[k], depth + 1);
        } catch (err) {
          throw under(err, `[${k}]`);
        }
      }
      return writeArray(items, depth);
    }
    case 'union':
      throw new TypeError('a keyed union is written with its struct');
    default:
      return BUILTINS[t.kind].write(v, depth);
  }
}
