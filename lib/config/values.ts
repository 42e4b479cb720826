// Value helpers for libxl's builtin types (uuid, mac, bitmap) and disk device numbers.
import { argumentError, rangeError } from '../errors.js';
import { ConfigError } from './errors.js';
import { BITMAP_MAX_BIT } from '../xen.js';

export const NIL_UUID = '00000000-0000-0000-0000-000000000000';
export const ZERO_MAC = '00:00:00:00:00:00';

/** A UUID string, e.g. "6c15d298-0f76-4d77-993a-d45244fb6993" (libxl writes lower case). */
export type Uuid = string;
/** A MAC address "aa:bb:cc:dd:ee:ff" (libxl writes lower case). */
export type Mac = string;

const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** The canonical (lower-case) form of a UUID as libuuid's uuid_parse accepts it, or null. */
export function parseUuid(s: string): Uuid | null {
  return UUID_RE.test(s) ? s.toLowerCase() : null;
}

export function isUuid(s: unknown): s is Uuid {
  return typeof s === 'string' && UUID_RE.test(s);
}

const HEX_PAIR = /^[0-9a-fA-F]{2}$/;
const CANONICAL_MAC = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;

/**
 * libxl__parse_mac: up to six two-digit hex octets, each followed by any one separator
 * character; missing octets are 0 and anything after the sixth is ignored. (libxl's strtol
 * would also take a sign or a space inside an octet; those are refused here.)
 */
export function parseMacLikeLibxl(s: string): Mac | null {
  if (CANONICAL_MAC.test(s)) return s; // as formatMac would write it back
  const bytes = [0, 0, 0, 0, 0, 0];
  for (let i = 0, tok = 0; tok < s.length && i < 6; i++, tok += 3) {
    const pair = s.slice(tok, tok + 2);
    if (!HEX_PAIR.test(pair)) return null;
    bytes[i] = parseInt(pair, 16);
  }
  return formatMac(bytes);
}

/** Strict "xx:xx:xx:xx:xx:xx" (any case) → lower-case form, or null. */
export function parseMac(s: string): Mac | null {
  return /^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(s) ? s.toLowerCase() : null;
}

const HEX_BYTES = Array.from({ length: 256 }, (_, b) => b.toString(16).padStart(2, '0'));

export function formatMac(bytes: ArrayLike<number>): Mac {
  if (bytes.length !== 6) throw rangeError('a MAC address has 6 bytes');
  let mac = '';
  for (let i = 0; i < 6; i++) {
    const hex = HEX_BYTES[bytes[i]!];
    if (hex === undefined || !Number.isInteger(bytes[i])) throw rangeError(`not a byte: ${bytes[i]}`);
    mac += i === 0 ? hex : `:${hex}`;
  }
  return mac;
}

export function macToBytes(mac: Mac): number[] {
  const m = parseMac(mac);
  if (m === null) throw argumentError('ERR_INVALID_ARG_VALUE', `not a MAC address: ${mac}`);
  return m.split(':').map((h) => parseInt(h, 16));
}

// ---- libxl_bitmap as the ascending list of its set bits ----

/** Set bits from any list: validated, sorted, duplicates removed. */
export function bitmapFromIndices(bits: Iterable<number>): number[] {
  const list = [...bits];
  for (const b of list) {
    if (!Number.isInteger(b) || b < 0 || b > BITMAP_MAX_BIT) throw rangeError(`not a bit number: ${b}`);
  }
  return [...new Set(list)].sort((a, b) => a - b);
}

/** Bits lo..hi inclusive. */
export function bitmapRange(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let b = lo; b <= hi; b++) out.push(b);
  return bitmapFromIndices(out);
}

export function bitmapHas(bits: readonly number[], bit: number): boolean {
  return bits.includes(bit);
}

export function bitmapToMask(bits: readonly number[]): bigint {
  let mask = 0n;
  for (const b of bits) mask |= 1n << BigInt(b);
  return mask;
}

export function bitmapFromMask(mask: bigint): number[] {
  const out: number[] = [];
  for (let b = 0; mask > 0n; b++, mask >>= 1n) if (mask & 1n) out.push(b);
  return out;
}

/** The list libxl_bitmap_gen_json writes: ascending, each bit once. */
export function formatBitmap(bits: readonly number[]): number[] {
  if (!Array.isArray(bits)) throw new ConfigError('', 'an array of bit numbers', `found ${typeof bits}`);
  let ascending = true;
  for (let k = 0; k < bits.length; k++) {
    const b = bits[k]!;
    if (!Number.isInteger(b) || b < 0 || b > BITMAP_MAX_BIT) throw new ConfigError(`[${k}]`, 'a bit number', `found ${String(b)}`);
    if (k > 0 && b <= bits[k - 1]!) ascending = false;
  }
  return ascending ? (bits as number[]) : bitmapFromIndices(bits);
}

// ---- disk device numbers (libxl__device_disk_dev_number) ----

export interface DiskDevNumber {
  /** The device number libxl uses as devid and in xenstore paths (xvda → 51712). */
  devnum: number;
  /** Disk index (a → 0) and partition, when the name says them. */
  disk: number | null;
  partition: number | null;
}

/** "a" → 0, "z" → 25, "aa" → 26 (libxl's base-26 drive letters), or null past `max`. */
function driveIndex(letters: string, max: number): number | null {
  let index = -1;
  for (let k = 0; k < letters.length; k++) {
    index = (index + 1) * 26 + (letters.charCodeAt(k) - 97);
    if (index > max) return null;
  }
  return index;
}

function matchVirtDisk(vdev: string, prefix: string, maxDisk: number, maxPartition: number): [number, number] | null {
  if (!vdev.startsWith(prefix)) return null;
  const m = /^([a-z]+)(.*)$/.exec(vdev.slice(prefix.length));
  if (!m) return null; // libxl would carry on with disk -1 and produce a bogus number
  const disk = driveIndex(m[1]!, maxDisk);
  if (disk === null) return null;
  const rest = m[2]!;
  if (rest === '') return [disk, 0];
  if (!/^[1-9][0-9]*$/.test(rest)) return null; // leading zeros are refused, like libxl
  const partition = Number(rest);
  return partition > maxPartition ? null : [disk, partition];
}

/**
 * libxl__device_disk_dev_number: xvdX[N] (and dNpM), a plain number, hdX[N], sdX[N].
 * Returns null where libxl returns -1.
 */
export function diskDevNumberOf(vdev: string): DiskDevNumber | null {
  const dp = /^d([0-9]+)p([0-9]+)$/.exec(vdev);
  const xvd: [number, number] | null =
    dp && Number(dp[1]) < 1 << 20 && Number(dp[2]) < 256 ? [Number(dp[1]), Number(dp[2])] : matchVirtDisk(vdev, 'xvd', (1 << 20) - 1, 255);
  if (xvd) {
    const [disk, partition] = xvd;
    const devnum = disk <= 15 && partition <= 15 ? (202 << 8) | (disk << 4) | partition : (1 << 28) | (disk << 8) | partition;
    return { devnum, disk, partition };
  }
  // strtoul(vdev, &ep, 0): decimal, 0x hex or 0 octal, up to INT_MAX
  const num = /^\s*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.exec(vdev);
  if (num) {
    const text = num[1]!;
    const v = /^0[xX]/.test(text) ? parseInt(text.slice(2), 16) : text.length > 1 && text[0] === '0' ? parseInt(text, 8) : Number(text);
    if (v <= 2147483647) return { devnum: v, disk: null, partition: null };
  }
  const hd = matchVirtDisk(vdev, 'hd', 3, 63);
  if (hd) {
    const [disk, partition] = hd;
    return { devnum: ((disk < 2 ? 3 : 22) << 8) | ((disk & 1) << 6) | partition, disk, partition };
  }
  const sd = matchVirtDisk(vdev, 'sd', 15, 15);
  if (sd) {
    const [disk, partition] = sd;
    return { devnum: (8 << 8) | (disk << 4) | partition, disk, partition };
  }
  return null;
}

/** The device number of a disk's vdev (xvda → 51712, hda → 768, hdc → 5632), or null. */
export function diskDevNumber(vdev: string): number | null {
  return diskDevNumberOf(vdev)?.devnum ?? null;
}

function driveLetters(index: number): string {
  let s = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26)) s = String.fromCharCode(97 + ((n - 1) % 26)) + s;
  return s;
}

/** The canonical vdev name of a device number (51712 → xvda), or null for other majors. */
export function diskVdevName(devnum: number): string | null {
  if (!Number.isInteger(devnum) || devnum < 0) return null;
  const name = (prefix: string, disk: number, partition: number): string =>
    `${prefix}${driveLetters(disk)}${partition === 0 ? '' : partition}`;
  if (devnum & (1 << 28)) return name('xvd', (devnum >> 8) & 0xfffff, devnum & 0xff);
  const major = devnum >> 8;
  const minor = devnum & 0xff;
  if (major === 202) return name('xvd', minor >> 4, minor & 15);
  if (major === 3 || major === 22) return name('hd', (major === 3 ? 0 : 2) + ((minor >> 6) & 1), minor & 63);
  if (major === 8) return name('sd', minor >> 4, minor & 15);
  return null;
}
