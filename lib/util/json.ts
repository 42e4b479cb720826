// JSON for results that hold 64-bit values (bigint) and errors, which
// JSON.stringify cannot take as they are. The representation, documented in
// the README: a bigint is a JSON number where that is exact (|v| ≤ 2^53 − 1)
// and a decimal string beyond; an Error is its name, message and own fields
// (code, errno, syscall, path…), its cause likewise.

const SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** A bigint as JSON keeps it exactly: a number where safe, a decimal string beyond. */
export function bigintJson(value: bigint): number | string {
  return value <= SAFE && value >= -SAFE ? Number(value) : value.toString();
}

/** JSON.stringify's replacer with the same rule for bigints. */
export function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? bigintJson(value) : value;
}

/** The value with bigints and errors in their JSON form, at any depth. */
export function toJsonValue(value: unknown): unknown {
  if (typeof value === 'bigint') return bigintJson(value);
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) return value.map(toJsonValue);
  if (value instanceof Error) {
    const { name, message } = value;
    const fields = Object.fromEntries(Object.entries(value).map(([key, field]) => [key, toJsonValue(field)]));
    return { name, message, ...fields, ...(value.cause === undefined ? {} : { cause: toJsonValue(value.cause) }) };
  }
  return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, toJsonValue(field)]));
}

function toJSON(this: unknown): unknown {
  return toJsonValue(this);
}

/**
 * Gives a result a toJSON (not enumerable: its own keys stay as they were),
 * so that JSON.stringify(result) works and keeps 64-bit values exact.
 */
export function jsonable<T extends object>(value: T): T {
  Object.defineProperty(value, 'toJSON', { value: toJSON, enumerable: false, configurable: true, writable: true });
  return value;
}
