// Writing JSON byte for byte as yajl_gen with yajl_gen_beautify and a 4-space
// indent, as libxl writes its files.
import { JsonNumber, JsonObject, type JsonValue } from './json.js';

const indents: string[] = [''];
export function indent(depth: number): string {
  while (indents.length <= depth) indents.push(indents[indents.length - 1] + '    ');
  return indents[depth]!;
}

const HEX = '0123456789ABCDEF';
// yajl_string_encode: these escapes, other control characters as \u00XX, '/' and DEL as is.
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

export function quote(s: string): string {
  if (!NEEDS_ESCAPE.test(s)) return `"${s}"`;
  let out = '"';
  for (let k = 0; k < s.length; k++) {
    const c = s.charCodeAt(k);
    switch (c) {
      case 0x22: out += '\\"'; break;
      case 0x5c: out += '\\\\'; break;
      case 0x0a: out += '\\n'; break;
      case 0x0d: out += '\\r'; break;
      case 0x09: out += '\\t'; break;
      case 0x0c: out += '\\f'; break;
      case 0x08: out += '\\b'; break;
      default:
        out += c < 0x20 ? `\\u00${HEX[c >> 4]}${HEX[c & 15]}` : s[k];
    }
  }
  return out + '"';
}

/** An object's members, already written, closed the way yajl closes a map at `depth`. */
export function writeObject(members: string[], depth: number): string {
  if (members.length === 0) return `{\n\n${indent(depth)}}`;
  const pad = indent(depth + 1);
  return `{\n${pad}${members.join(`,\n${pad}`)}\n${indent(depth)}}`;
}

export function writeArray(items: string[], depth: number): string {
  if (items.length === 0) return `[\n\n${indent(depth)}]`;
  const pad = indent(depth + 1);
  return `[\n${pad}${items.join(`,\n${pad}`)}\n${indent(depth)}]`;
}

/** Any JSON value at `depth`, numbers as their source text (yajl_gen_number). */
export function writeJson(value: JsonValue, depth: number): string {
  if (value === null) return 'null';
  if (value === true) return 'true';
  if (value === false) return 'false';
  if (typeof value === 'string') return quote(value);
  if (value instanceof JsonNumber) return value.text;
  if (value instanceof JsonObject) {
    const members: string[] = [];
    for (let k = 0; k < value.keys.length; k++) {
      members.push(`${quote(value.keys[k]!)}: ${writeJson(value.values[k]!, depth + 1)}`);
    }
    return writeObject(members, depth);
  }
  return writeArray(value.map((v) => writeJson(v, depth + 1)), depth);
}
