// What xl's device specification syntaxes share (xl-disk-configuration(5),
// xl-network-configuration(5), xl(1)'s vkb/vdispl/vsnd/usb specs): the result
// is the device in libxl-json form with only the fields the specification set,
// in libxl's field order (the schema table's), exactly what `xl -N <noun>-attach`
// prints. Each kind's own grammar is in its descriptor.
import { fieldNames, type StructType } from '../config/index.js';
import { nameErrorClass, XenDomconfigError } from '../errors.js';

export type JsonValue = string | number | boolean | JsonValue[] | { [field: string]: JsonValue };
/** A device in libxl-json form: libxl field names, enum names lower-cased, defbools "True"/"False". */
export type DeviceJson = Record<string, JsonValue>;

/** A device specification in xl's syntax that does not parse: EINVAL. */
export class SpecError extends XenDomconfigError {
  declare readonly code: 'EINVAL';
  constructor(readonly kind: string, readonly spec: string, readonly reason: string, readonly near?: string) {
    super('EINVAL', `invalid ${kind} specification '${spec}': ${reason}${near !== undefined ? ` near '${near}'` : ''}`);
  }
}
nameErrorClass(SpecError, 'SpecError');

/** libxl's JSON omits fields at their default: 0 for numbers except devid (default -1). */
export function inFieldOrder(schema: StructType, values: Map<string, JsonValue>): DeviceJson {
  const out: DeviceJson = {};
  for (const field of fieldNames(schema)) {
    const value = values.get(field);
    if (value === undefined || (value === 0 && field !== 'devid') || (Array.isArray(value) && value.length === 0)) continue;
    out[field] = value;
  }
  return out;
}

export function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

export type Fail = (reason: string) => never;

/** One KEY of a KEY=VALUE spec: the libxl field it sets and how its value reads. */
export interface SpecKey {
  field?: string;
  parse(value: string, fail: Fail): JsonValue | Map<string, JsonValue>;
  /** A key xl knows but libxl refuses, with or without a value: the reason. */
  refused?: string;
}

export const asString: SpecKey['parse'] = (value) => value;

/** parse_ulong, but strict: decimal digits only. */
export const unsignedDecimal = (max: number): SpecKey['parse'] => (value, fail) => {
  if (!/^[0-9]+$/.test(value) || Number(value) > max) fail(`'${value}' is not a number from 0 to ${max}`);
  return Number(value);
};

/** xl reads numbers with a leading 0 as octal (strtoull base 0); refuse them instead of guessing. */
export function leadingZeroFree(digits: string, fail: Fail): bigint {
  if (digits.length > 1 && digits.startsWith('0')) fail(`'${digits}' has a leading zero (xl would read it as octal)`);
  return BigInt(digits);
}

export interface KeyValueGrammar {
  keys: Readonly<Record<string, SpecKey>>;
  /** Bare words that set a field. */
  words?: Readonly<Record<string, readonly [string, JsonValue]>>;
  /** The keys named in an error (default: all). */
  known?: string;
  /** Each word is split at commas (xl's vif syntax); otherwise each word is one KEY=VALUE, as xl's vkb and vdispl verbs take them. */
  commas: boolean;
}

/**
 * A KEY=VALUE spec, given as one or more words as xl's <noun>-attach takes
 * them: later keys override earlier ones, as in xl; unknown keys are errors.
 */
export function parseKeyValueSpec(kind: string, schema: StructType, input: string | readonly string[], grammar: KeyValueGrammar): DeviceJson {
  const { keys, words = {} } = grammar;
  const known = grammar.known ?? [...Object.keys(keys), ...Object.keys(words)].join(', ');
  const list = typeof input === 'string' ? [input] : input;
  const tokens = list.flatMap((word) => (grammar.commas ? word.split(',') : [word])).filter((token) => token !== '');
  const spec = list.join(' ');
  const values = new Map<string, JsonValue>();
  for (const token of tokens) {
    const fail: Fail = (reason) => { throw new SpecError(kind, spec, reason, token); };
    const word = Object.hasOwn(words, token) ? words[token] : undefined;
    if (word) { values.set(word[0], word[1]); continue; }
    const [key, value] = splitOnce(token, '=');
    const entry = Object.hasOwn(keys, key) ? keys[key] : undefined;
    if (entry?.refused !== undefined) fail(entry.refused);
    if (!entry || value === undefined) fail(`unknown key '${key}' (known: ${known})`);
    const parsed = entry.parse(value, fail);
    if (parsed instanceof Map) for (const [field, v] of parsed) values.set(field, v);
    else values.set(entry.field!, parsed);
  }
  return inFieldOrder(schema, values);
}
