// Reading and writing libxl-json, driven by the schema table: libxl's generated
// *_parse_json and *_gen_json (gentypes.py) plus the builtin parsers of libxl_json.c and
// libxl_cpuid.c, reimplemented once for every struct.
import { ConfigError } from './errors.js';
import { JsonNumber, JsonObject, type JsonValue, cloneJson, jsonEquals, quote, writeArray, writeJson, writeObject } from './json.js';
import type { EnumType, IntType, SchemaType, StructType, UnionType } from './schema.js';
import type { CpuidLeaf, CpuidPolicy, Defbool, KeyValueList, MsrPolicy } from './types.js';
import { NIL_UUID, ZERO_MAC, formatBitmap, parseMacLikeLibxl, parseUuid } from './values.js';
import { BITMAP_MAX_BIT } from '../xen.js';

/**
 * Keys of a libxl struct that this schema does not know (a template written by a newer
 * libxl), kept on the parsed object under this symbol and written back in place.
 */
export const UNKNOWN_KEYS: unique symbol = Symbol('libxl-json unknown keys');

export interface UnknownKey {
  readonly key: string;
  readonly value: JsonValue;
  /** Index of the schema field this key followed in the document (-1: before all). */
  readonly after: number;
  /**
   * Set for a key the schema knows whose JSON type is not the field's: libxl reads it as
   * absent (the field keeps its default), and it is kept verbatim so that a rewrite loses
   * nothing. What the field accepts.
   */
  readonly expected?: string;
}

/**
 * On the all-defaults struct libxl reads for an array element that is not an object
 * (`"disks": [42]`): the element as it was, written back verbatim.
 */
const NOT_AN_OBJECT: unique symbol = Symbol('libxl-json element that is not an object');

type Obj = Record<string, unknown> & { [UNKNOWN_KEYS]?: UnknownKey[]; [NOT_AN_OBJECT]?: JsonValue };

/** The unknown keys kept on a parsed struct object (empty if none). */
export function unknownKeysOf(obj: object): readonly UnknownKey[] {
  return (obj as Obj)[UNKNOWN_KEYS] ?? [];
}

/** Replaces the unknown keys of a struct object (they are written back by format). */
export function setUnknownKeys(obj: object, keys: readonly UnknownKey[]): void {
  if (keys.length === 0 && !(UNKNOWN_KEYS in obj)) return;
  Object.defineProperty(obj, UNKNOWN_KEYS, { value: [...keys], enumerable: false, configurable: true, writable: true });
}

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
    case 'bool':
      return false;
    case 'string':
      return null;
    case 'defbool':
      return 'default';
    case 'uuid':
      return NIL_UUID;
    case 'mac':
      return ZERO_MAC;
    case 'bitmap':
    case 'string_list':
    case 'key_value_list':
    case 'array':
      return [];
    case 'cpuid':
      return { cpuid: [], msr: [] } satisfies CpuidPolicy;
    case 'ms_vm_genid':
      return new Array<number>(16).fill(0);
    case 'enum':
      return t.init;
    case 'struct':
      return defaultStruct(t);
    case 'union':
      throw new TypeError('a keyed union has no value of its own');
  }
}

function defaultStruct(t: StructType): Obj {
  return compile(t).makeDefault();
}

// ---- errors carry their path; it is built only while one unwinds ----

function under(e: unknown, segment: string): unknown {
  if (!(e instanceof ConfigError)) return e;
  const path = e.jsonPath === '' ? segment : e.jsonPath.startsWith('[') ? segment + e.jsonPath : `${segment}.${e.jsonPath}`;
  return new ConfigError(path, e.expected, e.detail, e.offset);
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
      return 'an integer in 0..18446744073709551615';
    case 'bool':
      return 'true or false';
    case 'string':
      return 'a string or null';
    case 'enum':
      return `one of ${t.values.join(', ')} (${t.name})`;
    case 'defbool':
      return '"True", "False" or "<default>"';
    case 'uuid':
      return 'a UUID string';
    case 'mac':
      return 'a MAC address string';
    case 'key_value_list':
    case 'struct':
      return 'an object';
    default:
      return 'an array';
  }
}

function expectInteger(node: JsonValue, t: IntType): number {
  if (!(node instanceof JsonNumber) || node.form !== 'integer') {
    throw new ConfigError('', `an integer in ${t.min}..${t.max}`, `found ${describe(node)}`);
  }
  const v = Number(node.integer());
  if (v < t.min || v > t.max) throw new ConfigError('', `an integer in ${t.min}..${t.max}`, `found ${node.text}`);
  return v;
}

function readUint64(node: JsonNumber): bigint {
  const v = BigInt(node.integer());
  if (v < 0n || v > 18446744073709551615n) {
    throw new ConfigError('', 'an integer in 0..18446744073709551615', `found ${node.text}`);
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
    case 'bool':
      return typeof node === 'boolean' ? node : ABSENT;
    case 'string':
      return typeof node === 'string' || node === null ? node : ABSENT;
    case 'enum':
      return typeof node === 'string' ? readEnum(node, t) : ABSENT;
    case 'defbool':
    case 'uuid':
    case 'mac':
      return typeof node === 'string' ? readElement(t, node) : ABSENT;
    case 'bitmap':
    case 'string_list':
    case 'array':
      return Array.isArray(node) ? readElement(t, node) : ABSENT;
    case 'key_value_list':
      return node instanceof JsonObject ? readElement(t, node) : ABSENT;
    case 'struct':
      return node instanceof JsonObject ? readStruct(t, node, current as Obj) : ABSENT;
    case 'cpuid':
    case 'ms_vm_genid':
      return readElement(t, node);
    case 'union':
      return ABSENT;
  }
}

/** A value with no type filter (array elements, and fields once their JSON type matched). */
function readElement(t: SchemaType, node: JsonValue): unknown {
  switch (t.kind) {
    case 'int':
      return expectInteger(node, t);
    case 'uint64':
      if (node instanceof JsonNumber && node.form !== 'double') return readUint64(node);
      throw new ConfigError('', 'an integer in 0..18446744073709551615', `found ${describe(node)}`);
    case 'bool':
      if (typeof node === 'boolean') return node;
      throw new ConfigError('', 'true or false', `found ${describe(node)}`);
    case 'string':
      if (typeof node === 'string' || node === null) return node;
      throw new ConfigError('', 'a string or null', `found ${describe(node)}`);
    case 'enum':
      if (typeof node === 'string') return readEnum(node, t);
      throw new ConfigError('', `a string naming a ${t.name}`, `found ${describe(node)}`);
    case 'defbool':
      return readDefbool(node);
    case 'uuid': {
      const v = typeof node === 'string' ? parseUuid(node) : null;
      if (v === null) throw new ConfigError('', 'a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)', `found ${describe(node)}`);
      return v;
    }
    case 'mac': {
      const v = typeof node === 'string' ? parseMacLikeLibxl(node) : null;
      if (v === null) throw new ConfigError('', 'a MAC address (xx:xx:xx:xx:xx:xx)', `found ${describe(node)}`);
      return v;
    }
    case 'bitmap':
      return readBitmap(node);
    case 'string_list':
      return readList(node, (item) => {
        if (typeof item !== 'string') throw new ConfigError('', 'a string', `found ${describe(item)}`);
        return item;
      });
    case 'key_value_list':
      return readKeyValueList(node);
    case 'cpuid':
      return readCpuid(node);
    case 'ms_vm_genid':
      return readGenid(node);
    case 'struct': {
      const obj = readStruct(t, node);
      if (!(node instanceof JsonObject)) Object.defineProperty(obj, NOT_AN_OBJECT, { value: node, enumerable: false, configurable: true });
      return obj;
    }
    case 'array':
      return readList(node, (item) => readElement(t.of, item));
    case 'union':
      throw new TypeError('a keyed union is read with its struct');
  }
}

function readList<T>(node: JsonValue, readItem: (item: JsonValue) => T): T[] {
  if (!Array.isArray(node)) throw new ConfigError('', 'an array', `found ${describe(node)}`);
  const out = new Array<T>(node.length);
  for (let k = 0; k < node.length; k++) {
    try {
      out[k] = readItem(node[k]!);
    } catch (e) {
      throw under(e, `[${k}]`);
    }
  }
  return out;
}

function readDefbool(node: JsonValue): Defbool {
  // libxl__defbool_parse_json compares prefixes
  if (typeof node === 'string') {
    if (node.startsWith('<default>')) return 'default';
    if (node.startsWith('True')) return true;
    if (node.startsWith('False')) return false;
  }
  throw new ConfigError('', '"True", "False" or "<default>"', `found ${describe(node)}`);
}


function readBitmap(node: JsonValue): number[] {
  if (!Array.isArray(node)) throw new ConfigError('', 'an array of bit numbers', `found ${describe(node)}`);
  if (node.length === 0) return [];
  const bits = readList(node, (item) => expectInteger(item, { kind: 'int', min: 0, max: BITMAP_MAX_BIT, init: 0 }));
  // libxl sizes the bitmap from the last element (rounded up to whole bytes) and drops
  // bits beyond it, so a list that is not ascending loses its larger bits.
  const limit = Math.ceil((bits[bits.length - 1]! + 1) / 8) * 8;
  return normaliseBits(bits.filter((b) => b < limit));
}

function normaliseBits(bits: number[]): number[] {
  for (let k = 1; k < bits.length; k++) {
    if (bits[k]! <= bits[k - 1]!) return [...new Set(bits)].sort((a, b) => a - b);
  }
  return bits;
}

function readKeyValueList(node: JsonValue): KeyValueList {
  if (!(node instanceof JsonObject)) throw new ConfigError('', 'an object', `found ${describe(node)}`);
  return node.keys.map((key, k) => {
    const v = node.values[k]!;
    if (typeof v !== 'string' && v !== null) throw new ConfigError(key, 'a string or null', `found ${describe(v)}`);
    return [key, v];
  });
}

const UINT32_INPUT = { kind: 'int', min: 0, max: 0xfffffffe, init: 0 } as const; // 0xffffffff means "unused"
const CPUID_REGISTERS = ['eax', 'ebx', 'ecx', 'edx'] as const;
const POLICY_CHARS = /^[01xks]*$/;

function firstOf(obj: JsonObject, key: string): JsonValue | undefined {
  const k = obj.keys.indexOf(key);
  return k < 0 ? undefined : obj.values[k];
}

function readPolicyString(node: JsonValue | undefined, length: number): string {
  if (typeof node !== 'string' || node.length !== length || !POLICY_CHARS.test(node)) {
    throw new ConfigError('', `${length} characters of 0 1 x k s`, `found ${describe(node ?? null)}`);
  }
  return node;
}

/** libxl__cpuid_policy_list_parse_json: {"cpuid": [...], "msr": [...]}, or the older bare array. */
function readCpuid(node: JsonValue): CpuidPolicy {
  let leaves: JsonValue;
  let msrs: JsonValue = [];
  let leavesKey = '';
  if (Array.isArray(node)) leaves = node;
  else if (node instanceof JsonObject) {
    leavesKey = 'cpuid';
    leaves = firstOf(node, 'cpuid') ?? null;
    if (!Array.isArray(leaves)) throw new ConfigError('cpuid', 'an array');
    msrs = firstOf(node, 'msr') ?? null;
    if (!Array.isArray(msrs)) throw new ConfigError('msr', 'an array');
  } else {
    throw new ConfigError('', 'an object {"cpuid": [...], "msr": [...]}', `found ${describe(node)}`);
  }
  const readLeaves = (): CpuidLeaf[] => readList(leaves, (item): CpuidLeaf => {
    if (!(item instanceof JsonObject)) throw new ConfigError('', 'an object', `found ${describe(item)}`);
    const leaf = firstOf(item, 'leaf');
    const subleaf = firstOf(item, 'subleaf');
    const out: CpuidLeaf = {
      leaf: wrap('leaf', () => expectInteger(leaf ?? null, UINT32_INPUT)),
      subleaf: subleaf instanceof JsonNumber && subleaf.form === 'integer'
        ? wrap('subleaf', () => expectInteger(subleaf, UINT32_INPUT)) : null,
      eax: null, ebx: null, ecx: null, edx: null,
    };
    for (const reg of CPUID_REGISTERS) {
      const v = firstOf(item, reg);
      if (typeof v === 'string') out[reg] = wrap(reg, () => readPolicyString(v, 32));
    }
    return out;
  });
  const cpuid = leavesKey ? wrap(leavesKey, readLeaves) : readLeaves();
  const msr = wrap('msr', () => readList(msrs, (item): MsrPolicy => {
    if (!(item instanceof JsonObject)) throw new ConfigError('', 'an object', `found ${describe(item)}`);
    return {
      index: wrap('index', () => expectInteger(firstOf(item, 'index') ?? null, UINT32_INPUT)),
      policy: wrap('policy', () => readPolicyString(firstOf(item, 'policy'), 64)),
    };
  }));
  return { cpuid, msr };
}

function wrap<T>(segment: string, read: () => T): T {
  try {
    return read();
  } catch (e) {
    throw under(e, segment);
  }
}

function readGenid(node: JsonValue): number[] {
  if (!Array.isArray(node) || node.length < 16) {
    throw new ConfigError('', 'an array of 16 byte values', `found ${describe(node)}`);
  }
  return readList(node.slice(0, 16), (item) => expectInteger(item, { kind: 'int', min: 0, max: 255, init: 0 }));
}

function describe(node: JsonValue): string {
  if (node === null) return 'null';
  if (typeof node === 'boolean') return String(node);
  if (typeof node === 'string') return JSON.stringify(node.length > 40 ? `${node.slice(0, 40)}…` : node);
  if (node instanceof JsonNumber) return node.text;
  if (node instanceof JsonObject) return 'an object';
  return 'an array';
}

// ---- generation (libxl's *_gen_json) ----

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
    case 'bool':
      return 'v !== false';
    case 'string':
      return 'v !== null';
    case 'defbool':
      return 'v !== "default"';
    case 'enum':
      return `v !== ${JSON.stringify(t.init)}`;
    case 'uuid':
      return `!(typeof v === "string" && v.toLowerCase() === ${JSON.stringify(NIL_UUID)})`;
    case 'mac':
      return `!(typeof v === "string" && v.toLowerCase() === ${JSON.stringify(ZERO_MAC)})`;
    case 'bitmap':
    case 'string_list':
    case 'key_value_list':
    case 'array':
      return '!(Array.isArray(v) && v.length === 0)';
    case 'cpuid':
      return '!!v && (v.cpuid.length !== 0 || v.msr.length !== 0)';
    case 'ms_vm_genid':
      return '!(Array.isArray(v) && v.every((b) => b === 0))';
    case 'struct':
      return 'true'; // aggregates are always written, possibly as {}
    case 'union':
      throw new TypeError('a keyed union is written with its struct');
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

/**
 * The keys of the wrong JSON type held verbatim anywhere in a parsed value, with their
 * JSON paths, in document order.
 */
export function wrongTypedKeys(value: unknown, path = ''): { jsonPath: string; expected: string; found: string }[] {
  if (Array.isArray(value)) return value.flatMap((item, k) => wrongTypedKeys(item, `${path}[${k}]`));
  if (value === null || typeof value !== 'object') return [];
  const join = (key: string) => (path === '' ? key : `${path}.${key}`);
  const element = (value as Obj)[NOT_AN_OBJECT];
  if (element !== undefined) return [{ jsonPath: path, expected: 'an object', found: `found ${describe(element)}` }];
  const found = ((value as Obj)[UNKNOWN_KEYS] ?? [])
    .filter((extra) => extra.expected !== undefined)
    .map((extra) => ({ jsonPath: join(extra.key), expected: extra.expected!, found: `found ${describe(extra.value)}` }));
  for (const [key, child] of Object.entries(value)) found.push(...wrongTypedKeys(child, join(key)));
  return found;
}

function writeValue(t: SchemaType, v: unknown, depth: number): string {
  switch (t.kind) {
    case 'int':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < t.min || v > t.max) {
        throw new ConfigError('', `an integer in ${t.min}..${t.max}`, `found ${String(v)}`);
      }
      return String(v);
    case 'uint64':
      if (typeof v !== 'bigint' || v < 0n || v > 18446744073709551615n) {
        throw new ConfigError('', 'a bigint in 0..18446744073709551615', `found ${String(v)}`);
      }
      return v.toString();
    case 'bool':
      if (typeof v !== 'boolean') throw new ConfigError('', 'a boolean', `found ${String(v)}`);
      return v ? 'true' : 'false';
    case 'string':
      if (typeof v !== 'string') throw new ConfigError('', 'a string or null', `found ${String(v)}`);
      return quote(v);
    case 'enum':
      // libxl__yajl_gen_enum writes null for a value outside the enum (0 where 0 is no member)
      if (v === null && t.init === null) return 'null';
      if (typeof v !== 'string' || !t.values.includes(v)) {
        throw new ConfigError('', `one of ${t.values.join(', ')} (${t.name})`, `found ${String(v)}`);
      }
      return `"${v}"`;
    case 'defbool':
      if (v === true) return '"True"';
      if (v === false) return '"False"';
      throw new ConfigError('', "true, false or 'default'", `found ${String(v)}`);
    case 'uuid': {
      const u = typeof v === 'string' ? parseUuid(v) : null;
      if (u === null) throw new ConfigError('', 'a UUID', `found ${String(v)}`);
      return `"${u}"`;
    }
    case 'mac': {
      const m = typeof v === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v) ? v.toLowerCase() : null;
      if (m === null) throw new ConfigError('', 'a MAC address xx:xx:xx:xx:xx:xx', `found ${String(v)}`);
      return `"${m}"`;
    }
    case 'bitmap':
      return writeArray(formatBitmap(v as number[]).map(String), depth);
    case 'string_list':
      return writeArray(
        (v as unknown[]).map((s, k) => {
          if (typeof s !== 'string') throw new ConfigError(`[${k}]`, 'a string', `found ${String(s)}`);
          return quote(s);
        }),
        depth,
      );
    case 'key_value_list':
      return writeObject(
        (v as KeyValueList).map(([key, value]) => `${quote(key)}: ${value === null ? 'null' : quote(value)}`),
        depth,
      );
    case 'cpuid':
      return writeCpuid(v as CpuidPolicy, depth);
    case 'ms_vm_genid': {
      const bytes = v as number[];
      if (!Array.isArray(bytes) || bytes.length !== 16 || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        throw new ConfigError('', '16 byte values', `found ${String(v)}`);
      }
      return writeArray(bytes.map(String), depth);
    }
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
  }
}

function writeCpuid(p: CpuidPolicy, depth: number): string {
  const leaves = p.cpuid.map((l) => {
    const members = [`"leaf": ${checkInput(l.leaf)}`];
    if (l.subleaf !== null) members.push(`"subleaf": ${checkInput(l.subleaf)}`);
    for (const reg of CPUID_REGISTERS) {
      const r = l[reg];
      if (r !== null) members.push(`"${reg}": ${quote(readPolicyString(r, 32))}`);
    }
    return writeObject(members, depth + 2);
  });
  const msrs = p.msr.map((m) =>
    writeObject([`"index": ${checkInput(m.index)}`, `"policy": ${quote(readPolicyString(m.policy, 64))}`], depth + 2),
  );
  return writeObject([`"cpuid": ${writeArray(leaves, depth + 1)}`, `"msr": ${writeArray(msrs, depth + 1)}`], depth);
}

function checkInput(v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xfffffffe) throw new ConfigError('', 'an integer in 0..4294967294', `found ${v}`);
  return v;
}

// ---- structural helpers that keep unknown keys ----

/** Deep copy of a parsed value, unknown keys included. */
export function deepClone<T>(value: T): T {
  if (Array.isArray(value)) return value.map(deepClone) as T;
  if (value === null || typeof value !== 'object') return value;
  const src = value as Obj;
  const out: Obj = {};
  for (const key of Object.keys(src)) out[key] = deepClone(src[key]);
  const extras = src[UNKNOWN_KEYS];
  if (extras) setUnknownKeys(out, extras.map((x) => ({ ...x, value: cloneJson(x.value) })));
  if (src[NOT_AN_OBJECT] !== undefined) Object.defineProperty(out, NOT_AN_OBJECT, { value: cloneJson(src[NOT_AN_OBJECT]), enumerable: false, configurable: true });
  return out as T;
}

/** Structural equality of parsed values, unknown keys included. */
export function deepEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let k = 0; k < a.length; k++) if (!deepEquals(a[k], b[k])) return false;
    return true;
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object' || Array.isArray(b)) return false;
  const x = a as Obj;
  const y = b as Obj;
  const keys = Object.keys(x);
  if (keys.length !== Object.keys(y).length) return false;
  for (const key of keys) if (!(key in y) || !deepEquals(x[key], y[key])) return false;
  const ex = x[UNKNOWN_KEYS] ?? [];
  const ey = y[UNKNOWN_KEYS] ?? [];
  if (ex.length !== ey.length) return false;
  return ex.every((e, k) => e.key === ey[k]!.key && e.after === ey[k]!.after && jsonEquals(e.value, ey[k]!.value));
}

