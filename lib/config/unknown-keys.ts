// What a parsed libxl struct carries beyond its schema fields, so that a rewrite loses
// nothing: the keys this schema does not know (and known keys of the wrong JSON type),
// and an array element that was not an object. Copies and comparisons keep them.
import { cloneJson, jsonEquals, type JsonValue } from './json.js';
import { describe } from './builtins.js';

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
export const NOT_AN_OBJECT: unique symbol = Symbol('libxl-json element that is not an object');

export type Obj = Record<string, unknown> & { [UNKNOWN_KEYS]?: UnknownKey[]; [NOT_AN_OBJECT]?: JsonValue };

/** The unknown keys kept on a parsed struct object (empty if none). */
export function unknownKeysOf(obj: object): readonly UnknownKey[] {
  return (obj as Obj)[UNKNOWN_KEYS] ?? [];
}

/** Replaces the unknown keys of a struct object (they are written back by format). */
export function setUnknownKeys(obj: object, keys: readonly UnknownKey[]): void {
  if (keys.length === 0 && !(UNKNOWN_KEYS in obj)) return;
  Object.defineProperty(obj, UNKNOWN_KEYS, { value: [...keys], enumerable: false, configurable: true, writable: true });
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
