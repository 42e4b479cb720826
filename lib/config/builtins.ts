// libxl's built-in types in libxl-json (libxl_json.c, libxl_cpuid.c): for each one, in
// one table, its init value, the JSON type libxl reads it from, its parser, the test that
// leaves it out of the output, and its generator. The struct codec (read.ts, write.ts)
// looks a built-in up here, and shares the helpers below.
import { ConfigError } from './errors.js';
import { JsonNumber, JsonObject, type JsonValue } from './json.js';
import { quote, writeArray, writeObject } from './json-write.js';
import type { BuiltinType, IntType } from './idl.js';
import type { CpuidLeaf, CpuidPolicy, Defbool, KeyValueList, MsrPolicy } from './types.js';
import { NIL_UUID, ZERO_MAC, formatBitmap, parseMacLikeLibxl, parseUuid } from './values.js';
import { BITMAP_MAX_BIT } from '../xen.js';

export interface Builtin {
  /** A fresh value after libxl's *_init. */
  init(): unknown;
  /**
   * The JSON type libxl__json_map_get reads the field from: a field of another type reads
   * as absent (it keeps its default). Without one, every JSON value is parsed, and one
   * that does not fit is an error.
   */
  readonly filter?: { accepts(node: JsonValue): boolean; readonly expected: string };
  /** The value of a JSON node (libxl's *_parse_json). */
  read(node: JsonValue): unknown;
  /** Source of the test that a value (in `v`) is written: gentypes.py's get_default_expr, negated. */
  readonly differsFromInit: string;
  /** The value as yajl writes it at `depth` (libxl's *_gen_json). */
  write(v: unknown, depth: number): string;
}

const STRING = (expected: string) => ({ accepts: (node: JsonValue) => typeof node === 'string', expected });
const ARRAY = { accepts: (node: JsonValue) => Array.isArray(node), expected: 'an array' };
const EMPTY = '!(Array.isArray(v) && v.length === 0)';

export const BUILTINS: { readonly [K in BuiltinType['kind']]: Builtin } = {
  bool: {
    init: () => false,
    filter: { accepts: (node) => typeof node === 'boolean', expected: 'true or false' },
    read(node) {
      if (typeof node === 'boolean') return node;
      throw new ConfigError('', 'true or false', `found ${describe(node)}`);
    },
    differsFromInit: 'v !== false',
    write(v) {
      if (typeof v !== 'boolean') throw new ConfigError('', 'a boolean', `found ${String(v)}`);
      return v ? 'true' : 'false';
    },
  },
  string: {
    init: () => null,
    filter: { accepts: (node) => typeof node === 'string' || node === null, expected: 'a string or null' },
    read(node) {
      if (typeof node === 'string' || node === null) return node;
      throw new ConfigError('', 'a string or null', `found ${describe(node)}`);
    },
    differsFromInit: 'v !== null',
    write(v) {
      if (typeof v !== 'string') throw new ConfigError('', 'a string or null', `found ${String(v)}`);
      return quote(v);
    },
  },
  defbool: {
    init: () => 'default',
    filter: STRING('"True", "False" or "<default>"'),
    read: readDefbool,
    differsFromInit: 'v !== "default"',
    write(v) {
      if (v === true) return '"True"';
      if (v === false) return '"False"';
      throw new ConfigError('', "true, false or 'default'", `found ${String(v)}`);
    },
  },
  uuid: {
    init: () => NIL_UUID,
    filter: STRING('a UUID string'),
    read(node) {
      const v = typeof node === 'string' ? parseUuid(node) : null;
      if (v === null) throw new ConfigError('', 'a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)', `found ${describe(node)}`);
      return v;
    },
    differsFromInit: `!(typeof v === "string" && v.toLowerCase() === ${JSON.stringify(NIL_UUID)})`,
    write(v) {
      const u = typeof v === 'string' ? parseUuid(v) : null;
      if (u === null) throw new ConfigError('', 'a UUID', `found ${String(v)}`);
      return `"${u}"`;
    },
  },
  mac: {
    init: () => ZERO_MAC,
    filter: STRING('a MAC address string'),
    read(node) {
      const v = typeof node === 'string' ? parseMacLikeLibxl(node) : null;
      if (v === null) throw new ConfigError('', 'a MAC address (xx:xx:xx:xx:xx:xx)', `found ${describe(node)}`);
      return v;
    },
    differsFromInit: `!(typeof v === "string" && v.toLowerCase() === ${JSON.stringify(ZERO_MAC)})`,
    write(v) {
      const m = typeof v === 'string' && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(v) ? v.toLowerCase() : null;
      if (m === null) throw new ConfigError('', 'a MAC address xx:xx:xx:xx:xx:xx', `found ${String(v)}`);
      return `"${m}"`;
    },
  },
  bitmap: {
    init: () => [],
    filter: ARRAY,
    read: readBitmap,
    differsFromInit: EMPTY,
    write: (v, depth) => writeArray(formatBitmap(v as number[]).map(String), depth),
  },
  string_list: {
    init: () => [],
    filter: ARRAY,
    read: (node) => readList(node, (item) => {
      if (typeof item !== 'string') throw new ConfigError('', 'a string', `found ${describe(item)}`);
      return item;
    }),
    differsFromInit: EMPTY,
    write: (v, depth) => writeArray(
      (v as unknown[]).map((s, k) => {
        if (typeof s !== 'string') throw new ConfigError(`[${k}]`, 'a string', `found ${String(s)}`);
        return quote(s);
      }),
      depth,
    ),
  },
  key_value_list: {
    init: () => [],
    filter: { accepts: (node) => node instanceof JsonObject, expected: 'an object' },
    read: readKeyValueList,
    differsFromInit: EMPTY,
    write: (v, depth) => writeObject(
      (v as KeyValueList).map(([key, value]) => `${quote(key)}: ${value === null ? 'null' : quote(value)}`),
      depth,
    ),
  },
  cpuid: {
    init: () => ({ cpuid: [], msr: [] }) satisfies CpuidPolicy,
    read: readCpuid,
    differsFromInit: '!!v && (v.cpuid.length !== 0 || v.msr.length !== 0)',
    write: (v, depth) => writeCpuid(v as CpuidPolicy, depth),
  },
  ms_vm_genid: {
    init: () => new Array<number>(16).fill(0),
    read: readGenid,
    differsFromInit: '!(Array.isArray(v) && v.every((b) => b === 0))',
    write(v, depth) {
      const bytes = v as number[];
      if (!Array.isArray(bytes) || bytes.length !== 16 || !bytes.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
        throw new ConfigError('', '16 byte values', `found ${String(v)}`);
      }
      return writeArray(bytes.map(String), depth);
    },
  },
};

// ---- shared with the struct codec ----

export const UINT64_MAX = 18446744073709551615n;

/** The error with `segment` prefixed to its path: paths are built only while an error unwinds. */
export function under(e: unknown, segment: string): unknown {
  if (!(e instanceof ConfigError)) return e;
  const path = e.jsonPath === '' ? segment : e.jsonPath.startsWith('[') ? segment + e.jsonPath : `${segment}.${e.jsonPath}`;
  return new ConfigError(path, e.expected, e.detail, e.offset);
}

/** A JSON node in a message: short, and never the whole of a large value. */
export function describe(node: JsonValue): string {
  if (node === null) return 'null';
  if (typeof node === 'boolean') return String(node);
  if (typeof node === 'string') return JSON.stringify(node.length > 40 ? `${node.slice(0, 40)}…` : node);
  if (node instanceof JsonNumber) return node.text;
  if (node instanceof JsonObject) return 'an object';
  return 'an array';
}

export function expectInteger(node: JsonValue, t: IntType): number {
  if (!(node instanceof JsonNumber) || node.form !== 'integer') {
    throw new ConfigError('', `an integer in ${t.min}..${t.max}`, `found ${describe(node)}`);
  }
  const v = Number(node.integer());
  if (v < t.min || v > t.max) throw new ConfigError('', `an integer in ${t.min}..${t.max}`, `found ${node.text}`);
  return v;
}

export function readList<T>(node: JsonValue, readItem: (item: JsonValue) => T): T[] {
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

// ---- the built-ins' own parsers and generators ----

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
  if (!Number.isInteger(v) || v < 0 || v > UINT32_INPUT.max) throw new ConfigError('', `an integer in 0..${UINT32_INPUT.max}`, `found ${v}`);
  return v;
}
