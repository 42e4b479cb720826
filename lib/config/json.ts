// JSON values with libxl's semantics: numbers kept as their text with libxl's
// number classes (integer / double / too big for long long), and objects with
// their keys in document order, duplicates kept. json-parse.ts reads them as
// yajl 2 does, json-write.ts writes them as yajl_gen does.

/** Digits (a sign included) that Number() reads exactly: integer() is a number up to here, a bigint beyond. */
const EXACT_DIGITS = 15;

/** A JSON number kept as its source text; `form` is how libxl classifies it. */
export class JsonNumber {
  /** integer()'s result where the reader already knew it (at most EXACT_DIGITS digits). */
  readonly #integer: number | undefined;

  constructor(
    readonly text: string,
    /** 'integer': fits a C long long; 'big': an integer that does not; 'double': has a '.'. */
    readonly form: 'integer' | 'big' | 'double',
    integer?: number,
  ) {
    this.#integer = integer;
  }

  /** The integer libxl reads (strtoll/strtoull of the digits before any exponent). */
  integer(): number | bigint {
    if (this.#integer !== undefined) return this.#integer;
    const digits = integerPart(this.text);
    return digits.length <= EXACT_DIGITS ? Number(digits) : BigInt(digits);
  }
}

/** A JSON object with its keys in document order (duplicates kept, as libxl keeps them). */
export class JsonObject {
  constructor(
    readonly keys: string[] = [],
    readonly values: JsonValue[] = [],
  ) {}
}

export type JsonValue = null | boolean | string | JsonNumber | JsonObject | JsonValue[];

const LONG_LONG_MIN = -(2n ** 63n);
const LONG_LONG_MAX = 2n ** 63n - 1n;

function integerPart(text: string): string {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x65 || c === 0x45) return text.slice(0, i); // e E
  }
  return text;
}

/** The JsonNumber of a number's text, classified as libxl's reader classifies it. */
export function classify(text: string): JsonNumber {
  if (text.includes('.')) return new JsonNumber(text, 'double');
  const digits = integerPart(text);
  if (digits.length <= EXACT_DIGITS) return new JsonNumber(text, 'integer', Number(digits));
  if (digits.length < 19) return new JsonNumber(text, 'integer');
  const v = BigInt(digits);
  return new JsonNumber(text, v < LONG_LONG_MIN || v > LONG_LONG_MAX ? 'big' : 'integer');
}

export function cloneJson(value: JsonValue): JsonValue {
  if (value instanceof JsonObject) return new JsonObject([...value.keys], value.values.map(cloneJson));
  if (Array.isArray(value)) return value.map(cloneJson);
  return value; // primitives and the immutable JsonNumber
}

export function jsonEquals(a: JsonValue, b: JsonValue): boolean {
  if (a === b) return true;
  if (a instanceof JsonNumber) return b instanceof JsonNumber && a.text === b.text;
  if (a instanceof JsonObject) {
    if (!(b instanceof JsonObject) || a.keys.length !== b.keys.length) return false;
    for (let k = 0; k < a.keys.length; k++) {
      if (a.keys[k] !== b.keys[k] || !jsonEquals(a.values[k]!, b.values[k]!)) return false;
    }
    return true;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    return a.every((v, k) => jsonEquals(v, b[k]!));
  }
  return false;
}
