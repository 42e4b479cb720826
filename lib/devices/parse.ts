// Defensive parsing of values read back from xenstore. Even toolstack-owned
// nodes are treated as untrusted text: bounded lengths, exact grammars, no
// atoi-style prefix parsing.
import { DOMID_FIRST_RESERVED, MAX_DEVID } from '../xen.js';

import { nameErrorClass, XenDomconfigError } from '../errors.js';

/** Longest value accepted for a short field (vdev, type, mode, uuid…). */
export const MAX_SHORT_VALUE = 256;
/** Longest xenstore path libxl can write (XENSTORE_ABS_PATH_MAX). */
export const MAX_PATH_VALUE = 3072;
/** Longest value accepted for a free-form field (params, script). */
export const MAX_LONG_VALUE = 4096;

/** A value that does not have the expected shape; `reason` says which rule failed. */
export class XenstoreValueError extends XenDomconfigError {
  declare readonly code: 'EXSVALUE';
  declare readonly path: string;
  constructor(
    path: string,
    readonly reason: string,
    readonly value: string | undefined,
  ) {
    super('EXSVALUE', `${path}: ${reason}${value === undefined ? '' : ` (got ${describeValue(value)})`}`, { path });
  }
}
nameErrorClass(XenstoreValueError, 'XenstoreValueError');

/** A short printable rendering of a hostile value for messages. */
export function describeValue(value: string): string {
  const shown = value.length > 64 ? `${value.slice(0, 64)}…[${value.length} chars]` : value;
  return JSON.stringify(shown);
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;
const UINT64_MAX = 2n ** 64n - 1n;

/** Strict unsigned decimal (no sign, no spaces, no leading zeros) up to 2^64-1. */
export function parseUint64(path: string, value: string | undefined): bigint {
  if (value === undefined) throw new XenstoreValueError(path, 'missing', value);
  if (value.length > 20 || !DECIMAL.test(value)) {
    throw new XenstoreValueError(path, 'not an unsigned decimal number', value);
  }
  const parsed = BigInt(value);
  if (parsed > UINT64_MAX) throw new XenstoreValueError(path, 'larger than 2^64-1', value);
  return parsed;
}

/** Strict unsigned decimal that fits `max` (default: a libxl devid). */
export function parseSmallUint(path: string, value: string | undefined, max = MAX_DEVID): number {
  if (value === undefined) throw new XenstoreValueError(path, 'missing', value);
  if (value.length > 10 || !DECIMAL.test(value)) {
    throw new XenstoreValueError(path, 'not an unsigned decimal number', value);
  }
  const parsed = Number(value);
  if (parsed > max) throw new XenstoreValueError(path, `larger than ${max}`, value);
  return parsed;
}

/** A present value no longer than `max` characters. */
export function requireValue(path: string, value: string | undefined, max = MAX_SHORT_VALUE): string {
  if (value === undefined) throw new XenstoreValueError(path, 'missing', value);
  if (value.length > max) throw new XenstoreValueError(path, `longer than ${max} characters`, value);
  return value;
}

/** An optional value no longer than `max` characters. */
export function optionalValue(path: string, value: string | undefined, max = MAX_SHORT_VALUE): string | undefined {
  return value === undefined ? undefined : requireValue(path, value, max);
}

/** The value must be one of `allowed`. */
export function parseEnum<T extends string>(path: string, value: string | undefined, allowed: readonly T[]): T {
  const present = requireValue(path, value);
  if (!(allowed as readonly string[]).includes(present)) {
    throw new XenstoreValueError(path, `not one of ${allowed.join(', ')}`, present);
  }
  return present as T;
}

const BACKEND_PATH = /^\/local\/domain\/(0|[1-9][0-9]{0,4})\/backend\/([a-z0-9_]{1,15})\/(0|[1-9][0-9]{0,4})\/(0|[1-9][0-9]{0,9})$/;

export interface BackendPath {
  backendDomid: number;
  backendKind: string;
  frontendDomid: number;
  devid: number;
}

/**
 * `/local/domain/<B>/backend/<kind>/<D>/<devid>`, the form libxl records under
 * /libxl (libxl__parse_backend_path), checked completely rather than by prefix.
 */
export function parseBackendPath(path: string, value: string | undefined): BackendPath {
  const present = requireValue(path, value, MAX_PATH_VALUE);
  const match = BACKEND_PATH.exec(present);
  if (!match) throw new XenstoreValueError(path, 'not a backend path /local/domain/<B>/backend/<kind>/<D>/<devid>', present);
  const [, backendDomid, backendKind, frontendDomid, devid] = match;
  const result = {
    backendDomid: Number(backendDomid),
    backendKind: backendKind!,
    frontendDomid: Number(frontendDomid),
    devid: Number(devid),
  };
  if (result.backendDomid >= DOMID_FIRST_RESERVED || result.frontendDomid >= DOMID_FIRST_RESERVED || result.devid > MAX_DEVID) {
    throw new XenstoreValueError(path, 'domid or devid out of range', present);
  }
  return result;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A canonical textual uuid, returned lower-case. */
export function parseUuid(path: string, value: string | undefined): string {
  const present = requireValue(path, value);
  if (!UUID.test(present)) throw new XenstoreValueError(path, 'not a uuid', present);
  return present.toLowerCase();
}

/** Bus:device.function as libxl writes it: `%04x:%02x:%02x.%01x`. */
export interface PciAddress {
  domain: number;
  bus: number;
  dev: number;
  func: number;
}

const BDF = /^([0-9a-f]{4}):([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

export function parsePciAddress(path: string, value: string | undefined): PciAddress {
  const present = requireValue(path, value);
  const match = BDF.exec(present);
  if (!match) throw new XenstoreValueError(path, 'not a PCI address dddd:bb:dd.f', present);
  const [, domain, bus, dev, func] = match;
  const address = {
    domain: parseInt(domain!, 16),
    bus: parseInt(bus!, 16),
    dev: parseInt(dev!, 16),
    func: parseInt(func!, 16),
  };
  if (address.dev > 0x1f) throw new XenstoreValueError(path, 'PCI device number above 0x1f', present);
  return address;
}

export function formatPciAddress(address: PciAddress): string {
  const hex = (n: number, width: number) => n.toString(16).padStart(width, '0');
  return `${hex(address.domain, 4)}:${hex(address.bus, 2)}:${hex(address.dev, 2)}.${hex(address.func, 1)}`;
}
