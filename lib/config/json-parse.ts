// Reading JSON as libxl does: yajl 2's grammar and string decoding, into the
// values of json.ts. JSON.parse reads only documents it reads exactly (it loses
// 64-bit integers, number text and repeated keys); the others go through a reader
// of our own.
import { ConfigError } from './errors.js';
import { classify, JsonObject, type JsonNumber, type JsonValue } from './json.js';

/** Deeper documents are refused: no libxl config nests beyond ten levels. */
export const MAX_DEPTH = 512;

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * The text libxl would see: it reads the file as a C string, so the first NUL ends it
 * (libxl writes one after the JSON). Bytes must be valid UTF-8, as yajl requires.
 */
export function inputText(input: string | Uint8Array): string {
  if (typeof input === 'string') {
    const nul = input.indexOf('\0');
    return nul < 0 ? input : input.slice(0, nul);
  }
  let end = input.indexOf(0);
  if (end < 0) end = input.length;
  try {
    return decoder.decode(input.subarray(0, end));
  } catch {
    throw new ConfigError('', 'UTF-8 text', 'the bytes are not valid UTF-8');
  }
}

/** Parses one JSON document (yajl 2 grammar, no comments, nothing but whitespace after it). */
export function parseJson(s: string): JsonValue {
  return parsePlainJson(s) ?? parseJsonLikeYajl(s);
}

// Text on which JSON.parse might read a number other than yajl, where a number can start
// (after ':', ',' or '['): -0, or a fraction or exponent, which an integer's canonical text
// would not give back (numbers that are not safe integers are caught once parsed). Also a
// key with whitespace before its ':', so that counting '":' counts every key. Matches inside
// strings only send a document the slow way.
const NOT_PLAIN = /[:,[]\s*(?:-0|-?\d+(?:\.|[eE][+-]?\d))|"\s+:/;

/**
 * JSON.parse, many times faster than any JavaScript reader on a cold start, where it reads
 * the document exactly as yajl does; otherwise undefined. JSON.parse itself refuses what
 * JSON and yajl both refuse, and also \v or \f between tokens, which yajl allows.
 */
function parsePlainJson(s: string): JsonValue | undefined {
  // yajl drops \u0000 and mends lone surrogates its own way
  if (s.includes('\\u') || NOT_PLAIN.test(s)) return undefined;
  let root: unknown;
  try {
    root = JSON.parse(s);
  } catch {
    return undefined;
  }
  if (typeof root !== 'object' || root === null) return undefined; // a bare scalar
  let keys = 0;
  let plain = true;
  const convert = (v: unknown, depth: number): JsonValue => {
    if (typeof v === 'number') {
      if (!Number.isSafeInteger(v)) plain = false; // its text is not String(v)
      return classify(String(v));
    }
    if (typeof v !== 'object' || v === null) return v as string | boolean | null;
    if (depth >= MAX_DEPTH) {
      plain = false; // the yajl reader says how deep is too deep
      return null;
    }
    if (Array.isArray(v)) return v.map((item) => convert(item, depth + 1));
    const names = Object.keys(v);
    const values = new Array<JsonValue>(names.length);
    for (let k = 0; k < names.length; k++) {
      const c = names[k]!.charCodeAt(0);
      if (c >= 0x30 && c <= 0x39) plain = false; // JS puts array-index keys first
      values[k] = convert((v as Record<string, unknown>)[names[k]!], depth + 1);
    }
    keys += names.length;
    return new JsonObject(names, values);
  };
  const value = convert(root, 0);
  return plain && keys === keyEnds(s) ? value : undefined;
}

/**
 * How often '":' occurs: every key ends so (NOT_PLAIN ruled out whitespace before the ':'),
 * so a document with as many as JSON.parse gave keys has no repeated key (JSON.parse keeps
 * the last, libxl reads the first).
 */
function keyEnds(s: string): number {
  let count = 0;
  for (let i = s.indexOf('":'); i >= 0; i = s.indexOf('":', i + 2)) count++;
  return count;
}

type Container = JsonObject | JsonValue[];

/** The reader itself, character by character as yajl reads (parseJson uses it where JSON.parse cannot). */
export function parseJsonLikeYajl(s: string): JsonValue {
  const n = s.length;
  let i = 0;
  const stack: Container[] = [];
  let root: JsonValue = null;

  const fail = (expected: string, detail?: string): never => {
    throw new ConfigError(pathOfStack(stack), expected, detail ?? describeAt(s, i), i);
  };
  const skipWs = (): void => {
    while (i < n) {
      const c = s.charCodeAt(i);
      // yajl also skips \v and \f between tokens
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09 || c === 0x0b || c === 0x0c) i++;
      else break;
    }
  };

  // States: read a value; after a value inside a container, read ',' or the close.
  let expectValue = true;
  for (;;) {
    skipWs();
    if (expectValue) {
      if (i >= n) fail('a value', 'the text ends early');
      const c = s.charCodeAt(i);
      let value: JsonValue;
      if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (stack.length >= MAX_DEPTH) fail(`at most ${MAX_DEPTH} levels of nesting`, 'nesting is too deep');
        const container: Container = c === 0x7b ? new JsonObject() : [];
        attach(container);
        stack.push(container);
        i++;
        skipWs();
        if (i < n && s.charCodeAt(i) === (c === 0x7b ? 0x7d : 0x5d)) {
          i++;
          stack.pop();
          expectValue = false;
          if (stack.length === 0) break;
          continue;
        }
        if (c === 0x7b) readKey();
        continue;
      } else if (c === 0x22) {
        value = readString();
      } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
        value = readNumber();
      } else if (s.startsWith('true', i)) {
        value = true;
        i += 4;
      } else if (s.startsWith('false', i)) {
        value = false;
        i += 5;
      } else if (s.startsWith('null', i)) {
        value = null;
        i += 4;
      } else {
        return fail('a value');
      }
      attach(value);
      expectValue = false;
      if (stack.length === 0) break;
      continue;
    }
    // after a value inside a container
    const top = stack[stack.length - 1]!;
    if (i >= n) fail(top instanceof JsonObject ? "',' or '}'" : "',' or ']'", 'the text ends early');
    const c = s.charCodeAt(i);
    if (c === 0x2c /* , */) {
      i++;
      if (top instanceof JsonObject) {
        skipWs();
        readKey();
      }
      expectValue = true;
    } else if (c === (top instanceof JsonObject ? 0x7d : 0x5d)) {
      i++;
      stack.pop();
      if (stack.length === 0) break;
    } else {
      fail(top instanceof JsonObject ? "',' or '}'" : "',' or ']'");
    }
  }
  skipWs();
  if (i < n) fail('the end of the text', 'there is more after the JSON value');
  return root;

  function attach(value: JsonValue): void {
    const top = stack[stack.length - 1];
    if (top === undefined) root = value;
    else if (top instanceof JsonObject) top.values.push(value);
    else top.push(value);
  }

  function readKey(): void {
    if (i >= n || s.charCodeAt(i) !== 0x22) fail('a string key');
    const key = readString();
    skipWs();
    if (i >= n || s.charCodeAt(i) !== 0x3a) fail("':'");
    i++;
    (stack[stack.length - 1] as JsonObject).keys.push(key);
    expectValue = true;
  }

  function readString(): string {
    const start = ++i; // after the opening quote
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x22) return s.slice(start, i++);
      if (c === 0x5c) break;
      if (c < 0x20) fail('a string character', 'control characters must be escaped');
      i++;
    }
    let out = s.slice(start, i);
    while (i < n) {
      const c = s.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return out;
      }
      if (c < 0x20) fail('a string character', 'control characters must be escaped');
      if (c !== 0x5c) {
        out += s[i++];
        continue;
      }
      const e = s.charCodeAt(i + 1);
      i += 2;
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: out += readUnicodeEscape(); break;
        default:
          i -= 2;
          fail('a valid escape (\\" \\\\ \\/ \\b \\f \\n \\r \\t \\uXXXX)');
      }
    }
    return fail("'\"'", 'the string is not terminated');
  }

  // yajl_string_decode: \u0000 vanishes (C strings), a high surrogate takes the next \uXXXX
  // whatever it is, a high surrogate without one becomes '?'.
  function readUnicodeEscape(): string {
    const hi = readHex4();
    if (hi === 0) return '';
    if ((hi & 0xfc00) === 0xd800) {
      if (s.charCodeAt(i) === 0x5c && s.charCodeAt(i + 1) === 0x75) {
        i += 2;
        const lo = readHex4();
        return String.fromCodePoint(((hi & 0x3f) << 10) | ((((hi >> 6) & 0xf) + 1) << 16) | (lo & 0x3ff));
      }
      return '?';
    }
    if ((hi & 0xfc00) === 0xdc00) return '\ufffd';
    return String.fromCharCode(hi);
  }

  function readHex4(): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = s.charCodeAt(i + k);
      const d = c >= 0x30 && c <= 0x39 ? c - 0x30 : c >= 0x61 && c <= 0x66 ? c - 87 : c >= 0x41 && c <= 0x46 ? c - 55 : -1;
      if (d < 0) {
        i += k;
        fail('4 hex digits after \\u');
      }
      v = v * 16 + d;
    }
    i += 4;
    return v;
  }

  function readNumber(): JsonNumber {
    const start = i;
    if (s.charCodeAt(i) === 0x2d) i++;
    const digitsAt = (): boolean => i < n && s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39;
    if (!digitsAt()) fail('a digit');
    if (s.charCodeAt(i) === 0x30) i++;
    else while (digitsAt()) i++;
    if (s.charCodeAt(i) === 0x2e) {
      i++;
      if (!digitsAt()) fail('a digit after the decimal point');
      while (digitsAt()) i++;
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === 0x2d) i++;
      if (!digitsAt()) fail('a digit in the exponent');
      while (digitsAt()) i++;
    }
    return classify(s.slice(start, i));
  }
}

function pathOfStack(stack: Container[]): string {
  let path = '';
  for (let d = 0; d < stack.length; d++) {
    const c = stack[d]!;
    const innermost = d === stack.length - 1;
    if (c instanceof JsonObject) {
      // a key whose value is being read, or the key of the open child container
      if (!innermost || c.keys.length > c.values.length) path = joinPath(path, c.keys[c.keys.length - 1]!);
    } else if (!innermost) path += `[${c.length - 1}]`;
  }
  return path;
}

function joinPath(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

function describeAt(s: string, i: number): string {
  if (i >= s.length) return 'the text ends early';
  return `found ${JSON.stringify(s.slice(i, i + 12))}`;
}
