// xl's disk and vif specification syntaxes (xl-disk-configuration(5),
// xl-network-configuration(5)), parsed the way xl 4.17 parses them:
// the disk grammar is libxlutil's flex scanner (libxlu_disk_l.l) replayed
// rule by rule, the vif grammar is xl's parse_nic_config key table.
//
// The result is the device in libxl-json form with only the fields the
// specification set, in libxl's field order: exactly what
// `xl -N block-attach` / `xl -N network-attach` print after "disk: " / "vif: ".

export type JsonValue = string | number | boolean;
/** A device in libxl-json form: libxl field names, enum names lower-cased, defbools "True"/"False". */
export type DeviceJson = Record<string, JsonValue>;

export class SpecError extends Error {
  override name = 'SpecError';
  readonly code = 'EINVAL';
  constructor(readonly kind: 'disk' | 'vif', readonly spec: string, readonly reason: string, readonly near?: string) {
    super(`invalid ${kind} specification '${spec}': ${reason}${near !== undefined ? ` near '${near}'` : ''}`);
  }
}

// libxl_device_disk / libxl_device_nic field order (IDL order, _libxl_types.h 4.17).
const DISK_FIELDS = [
  'backend_domid', 'backend_domname', 'pdev_path', 'vdev', 'backend', 'format', 'script', 'removable',
  'readwrite', 'is_cdrom', 'direct_io_safe', 'discard_enable', 'specification', 'transport', 'irq', 'base',
  'colo_enable', 'colo_restore_enable', 'colo_host', 'colo_port', 'colo_export', 'active_disk', 'hidden_disk',
  'trusted',
] as const;

const NIC_COLO_FIELDS = [
  'colo_sock_mirror_id', 'colo_sock_mirror_ip', 'colo_sock_mirror_port',
  'colo_sock_compare_pri_in_id', 'colo_sock_compare_pri_in_ip', 'colo_sock_compare_pri_in_port',
  'colo_sock_compare_sec_in_id', 'colo_sock_compare_sec_in_ip', 'colo_sock_compare_sec_in_port',
  'colo_sock_compare_notify_id', 'colo_sock_compare_notify_ip', 'colo_sock_compare_notify_port',
  'colo_sock_redirector0_id', 'colo_sock_redirector0_ip', 'colo_sock_redirector0_port',
  'colo_sock_redirector1_id', 'colo_sock_redirector1_ip', 'colo_sock_redirector1_port',
  'colo_sock_redirector2_id', 'colo_sock_redirector2_ip', 'colo_sock_redirector2_port',
  'colo_filter_mirror_queue', 'colo_filter_mirror_outdev',
  'colo_filter_redirector0_queue', 'colo_filter_redirector0_indev', 'colo_filter_redirector0_outdev',
  'colo_filter_redirector1_queue', 'colo_filter_redirector1_indev', 'colo_filter_redirector1_outdev',
  'colo_compare_pri_in', 'colo_compare_sec_in', 'colo_compare_out', 'colo_compare_notify_dev',
  'colo_sock_sec_redirector0_id', 'colo_sock_sec_redirector0_ip', 'colo_sock_sec_redirector0_port',
  'colo_sock_sec_redirector1_id', 'colo_sock_sec_redirector1_ip', 'colo_sock_sec_redirector1_port',
  'colo_filter_sec_redirector0_queue', 'colo_filter_sec_redirector0_indev', 'colo_filter_sec_redirector0_outdev',
  'colo_filter_sec_redirector1_queue', 'colo_filter_sec_redirector1_indev', 'colo_filter_sec_redirector1_outdev',
  'colo_filter_sec_rewriter0_queue', 'colo_checkpoint_host', 'colo_checkpoint_port',
] as const;

const NIC_FIELDS = [
  'backend_domid', 'backend_domname', 'devid', 'mtu', 'model', 'mac', 'ip', 'bridge', 'ifname', 'script',
  'nictype', 'rate_bytes_per_interval', 'rate_interval_usecs', 'gatewaydev', 'coloft_forwarddev',
  ...NIC_COLO_FIELDS, 'trusted',
] as const;

/** libxl's JSON omits fields at their default: 0 for numbers except devid (default -1). */
function inFieldOrder(fields: readonly string[], values: Map<string, JsonValue>): DeviceJson {
  const out: DeviceJson = {};
  for (const field of fields) {
    const value = values.get(field);
    if (value === undefined || (value === 0 && field !== 'devid')) continue;
    out[field] = value;
  }
  return out;
}

// ---------------------------------------------------------------- disk

/** State of one parse, as libxlutil's DiskParseContext plus the disk being filled. */
class DiskParse {
  readonly disk = new Map<string, JsonValue>([['readwrite', 1]]);
  hadDeprecatedPrefix = false;
  accessSet = false;
  spec = '';

  fail(reason: string, near?: string): never {
    throw new SpecError('disk', this.spec, reason, near);
  }

  /** DSET: an enum may be set again only to the same value. */
  setEnum(field: string, value: string, near: string): void {
    const current = this.disk.get(field);
    if (current !== undefined && current !== value) this.fail(`${field} respecified`, near);
    this.disk.set(field, value);
  }

  /** savestring: a string may be set once; an empty one may be overwritten. */
  setString(field: string, what: string, value: string): void {
    const current = this.disk.get(field);
    if (typeof current === 'string' && current !== '') this.fail(`${what} respecified`, value);
    this.disk.set(field, value);
  }

  setAccess(value: string): void {
    if (value === 'r' || value === 'ro') this.disk.set('readwrite', 0);
    else if (value === 'rw' || value === 'w' || value === '') this.disk.set('readwrite', 1);
    else this.fail('unknown value for access', value);
  }

  setFormat(value: string): void {
    const format = value === '' ? 'raw' : value;
    if (!DISK_FORMATS.has(format)) this.fail('unknown value for format', value);
    this.setEnum('format', format, value);
  }

  /** "<vdev>:<devtype>" positional; returns false when there is no colon. */
  vdevAndDevtype(text: string): boolean {
    const colon = text.lastIndexOf(':');
    if (colon < 0) return false;
    this.setString('vdev', 'vdev', text.slice(0, colon));
    const devtype = text.slice(colon + 1);
    if (devtype === 'cdrom') this.disk.set('is_cdrom', 1);
    else if (devtype === 'disk') this.disk.delete('is_cdrom');
    else this.fail('unknown deprecated type', devtype);
    return true;
  }

  positional(text: string): void {
    const d = this.disk;
    if (!d.has('pdev_path')) {
      this.setString('pdev_path', 'target', text);
    } else if (!this.hadDeprecatedPrefix && !d.has('format')) {
      if (d.get('pdev_path') === '' && this.vdevAndDevtype(text)) d.set('format', 'empty');
      else this.setFormat(text);
    } else if (!d.has('vdev')) {
      if (!this.vdevAndDevtype(text)) this.setString('vdev', 'vdev', text);
    } else if (!this.accessSet) {
      this.accessSet = true;
      this.setAccess(text);
    } else {
      this.fail('too many positional parameters', text);
    }
  }
}

const DISK_FORMATS = new Set(['raw', 'qcow', 'qcow2', 'vhd', 'empty', 'qed']);
const DISK_BACKENDS = new Set(['phy', 'tap', 'qdisk', 'standalone']);
const DISK_SPECIFICATIONS = new Set(['xen', 'virtio']);

interface LexRule {
  /** Sticky regex for the text the rule consumes. */
  match: RegExp;
  /** Flex trailing context: counts towards the match length, not consumed. */
  trail?: RegExp;
  /** `rest` is the unscanned input from the match on, up to a newline. */
  action(p: DiskParse, text: string, rest: string): void;
}

const stripComma = (text: string): string => (text.endsWith(',') ? text.slice(0, -1) : text);
const afterEquals = (text: string): string => stripComma(text).slice(text.indexOf('=') + 1);
const keyValue = (key: string, action: (p: DiskParse, value: string, text: string) => void): LexRule => ({
  match: new RegExp(`${key}=[^,]*,?`, 'y'),
  action: (p, text) => action(p, afterEquals(text), text),
});
const flag = (word: string, action: (p: DiskParse) => void): LexRule => ({
  match: new RegExp(`${word},?`, 'y'),
  action: (p) => action(p),
});
const stringKey = (key: string, field: string): LexRule =>
  keyValue(key, (p, value) => p.setString(field, key, value));
const defbool = (field: string, value: boolean) => (p: DiskParse) => p.disk.set(field, value ? 'True' : 'False');
const deprecatedPrefix = (prefix: string, action: (p: DiskParse, name: string) => void = () => {}): LexRule => ({
  match: new RegExp(`(?:${prefix}):`, 'y'),
  trail: /.*/y,
  action: (p, text) => { p.hadDeprecatedPrefix = true; action(p, text.slice(0, -1)); },
});

// libxlu_disk_l.l's rules in its order: the longest match wins, ties go to the earlier rule.
const DISK_RULES: LexRule[] = [
  { match: /[ \t\n]+/y, trail: /(?:[^ \t\n].*)?/y, action: () => {} },
  keyValue('format', (p, value) => p.setFormat(value)),
  flag('cdrom', (p) => p.disk.set('is_cdrom', 1)),
  flag('devtype=cdrom', (p) => p.disk.set('is_cdrom', 1)),
  flag('devtype=disk', (p) => p.disk.delete('is_cdrom')),
  keyValue('devtype', (p, _value, text) => p.fail('unknown value for type', text)),
  keyValue('access', (p, value) => p.setAccess(value)),
  stringKey('backend', 'backend_domname'),
  keyValue('backendtype', (p, value) => {
    if (!DISK_BACKENDS.has(value)) p.fail('unknown value for backendtype', value);
    p.setEnum('backend', value, value);
  }),
  keyValue('specification', (p, value) => {
    if (!DISK_SPECIFICATIONS.has(value)) p.fail('unknown value for specification', value);
    p.setEnum('specification', value, value);
  }),
  stringKey('vdev', 'vdev'),
  stringKey('script', 'script'),
  flag('direct-io-safe', (p) => p.disk.set('direct_io_safe', true)),
  flag('discard', defbool('discard_enable', true)),
  flag('no-discard', defbool('discard_enable', false)),
  flag('colo', defbool('colo_enable', true)),
  flag('no-colo', defbool('colo_enable', false)),
  stringKey('colo-host', 'colo_host'),
  keyValue('colo-port', (p, value) => {
    const port = Number.parseInt(value, 10); // atoi: leading digits
    if (!port) p.fail('unknown value for colo_port', value);
    p.disk.set('colo_port', port);
  }),
  stringKey('colo-export', 'colo_export'),
  stringKey('active-disk', 'active_disk'),
  stringKey('hidden-disk', 'hidden_disk'),
  { match: /target=.*/y, action: (p, text) => p.setString('pdev_path', 'target', afterEquals(text)) },
  { match: /[a-z][-a-z0-9]*=[^,],?/y, action: (p, text) => p.fail('unknown parameter', text) },
  deprecatedPrefix('raw|qcow2?|vhd', (p, name) => p.setFormat(name)),
  deprecatedPrefix('iscsi|e?nbd|drbd', (p, name) => p.setString('script', 'script', `block-${name}`)),
  deprecatedPrefix('tapdisk'),
  deprecatedPrefix('tap2?'),
  deprecatedPrefix('aio'),
  deprecatedPrefix('ioemu'),
  deprecatedPrefix('file'),
  deprecatedPrefix('phy'),
  {
    match: /[a-z][a-z0-9]*:/y,
    trail: /(?:[^a-z0-9].*)?/y,
    action: (p, text) => p.fail('unknown deprecated disk prefix', text),
  },
  { match: /[^=,]*,|[^=,]+,?/y, action: (p, text) => p.positional(stripComma(text)) },
  { match: /[^]/y, action: (p, _text, rest) => p.fail('bad disk syntax', rest) },
];

function matchAt(re: RegExp, input: string, at: number): string | undefined {
  re.lastIndex = at;
  const m = re.exec(input);
  return m ? m[0] : undefined;
}

function scanDiskSpec(p: DiskParse, spec: string): void {
  p.spec = spec;
  let at = 0;
  while (at < spec.length) {
    let best: { rule: LexRule; text: string; length: number } | undefined;
    for (const rule of DISK_RULES) {
      const text = matchAt(rule.match, spec, at);
      if (text === undefined || text.length === 0) continue;
      const trail = rule.trail ? matchAt(rule.trail, spec, at + text.length) ?? '' : '';
      const length = text.length + trail.length;
      if (!best || length > best.length) best = { rule, text, length };
    }
    if (!best) break; // unreachable: the last rule matches any character
    best.rule.action(p, best.text, spec.slice(at).split('\n')[0]!);
    at += best.text.length;
  }
}

/**
 * Parses one disk specification given as one or more strings (xl block-attach
 * accepts the positional parameters as separate arguments), like
 * xlu_disk_parse: format defaults to raw; a cdrom is removable and read-only.
 */
export function parseDiskSpec(specs: string | readonly string[]): DeviceJson {
  const parts = typeof specs === 'string' ? [specs] : specs;
  const p = new DiskParse();
  for (const spec of parts) scanDiskSpec(p, spec);
  p.spec = parts.join(' ');
  const d = p.disk;
  if (!d.has('format')) d.set('format', 'raw');
  if (d.get('is_cdrom')) {
    d.set('removable', 1);
    d.set('readwrite', 0);
    if (!d.get('pdev_path')) d.set('format', 'empty');
  }
  if (!d.has('vdev')) p.fail('no vdev specified');
  if (!d.has('pdev_path') && !d.get('removable')) p.fail('no target specified (and device not removable)');
  return inFieldOrder(DISK_FIELDS, d);
}

// ---------------------------------------------------------------- vif

interface VifKey {
  field?: string;
  parse(value: string, fail: (reason: string) => never): JsonValue | Map<string, JsonValue>;
}

const asString: VifKey['parse'] = (value) => value;

/** parse_ulong, but strict: decimal digits only. */
const unsignedDecimal = (max: number): VifKey['parse'] => (value, fail) => {
  if (!/^[0-9]+$/.test(value) || Number(value) > max) fail(`'${value}' is not a number from 0 to ${max}`);
  return Number(value);
};

function parseMac(value: string, fail: (reason: string) => never): string {
  const bytes = value.split(':');
  if (bytes.length !== 6 || !bytes.every((b) => /^[0-9a-fA-F]{1,2}$/.test(b))) {
    fail(`'${value}' is not a MAC address (six hex bytes separated by ':')`);
  }
  return bytes.map((b) => b.toLowerCase().padStart(2, '0')).join(':');
}

const UINT32_MAX = 0xffff_ffff;

/** xlu_vif_parse_rate: RATE[@INTERVAL], e.g. 10Mb/s@20ms; interval defaults to 50 ms. */
function parseRate(value: string, fail: (reason: string) => never): Map<string, JsonValue> {
  const [ratePart, intervalPart] = splitOnce(value, '@');
  if (ratePart === '') fail('no rate specified');
  const rate = /^([0-9]+)([GMK]?)([Bb])\/s$/.exec(ratePart);
  if (!rate) fail(`invalid rate '${ratePart}' (expected e.g. 10Mb/s or 1GB/s)`);
  const amount = leadingZeroFree(rate[1]!, fail);
  if (amount === 0n || amount > BigInt(UINT32_MAX)) fail(`rate overflow in '${ratePart}'`);
  let bytesPerSec = amount * ({ G: 1_000_000_000n, M: 1_000_000n, K: 1_000n, '': 1n } as const)[rate[2] as 'G' | 'M' | 'K' | ''];
  if (rate[3] === 'b') bytesPerSec /= 8n;

  let intervalUsecs = 50_000n;
  if (intervalPart !== undefined) {
    const interval = /^([0-9]+)([mu]?)s?$/.exec(intervalPart);
    if (!interval) fail(`invalid replenishment interval '${intervalPart}' (expected e.g. 20ms or 500us)`);
    const count = leadingZeroFree(interval[1]!, fail);
    if (count === 0n || count > BigInt(UINT32_MAX)) fail(`replenishment interval overflow in '${intervalPart}'`);
    intervalUsecs = count * ({ '': 1_000_000n, m: 1_000n, u: 1n } as const)[interval[2] as '' | 'm' | 'u'];
    if (intervalUsecs > BigInt(UINT32_MAX)) fail(`replenishment interval overflow in '${intervalPart}'`);
  }
  return new Map<string, JsonValue>([
    ['rate_bytes_per_interval', Number((bytesPerSec * intervalUsecs) / 1_000_000n)],
    ['rate_interval_usecs', Number(intervalUsecs)],
  ]);
}

/** xl reads numbers with a leading 0 as octal (strtoull base 0); refuse them instead of guessing. */
function leadingZeroFree(digits: string, fail: (reason: string) => never): bigint {
  if (digits.length > 1 && digits.startsWith('0')) fail(`'${digits}' has a leading zero (xl would read it as octal)`);
  return BigInt(digits);
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + 1)];
}

// parse_nic_config's keys (xl 4.17) → libxl_device_nic fields.
const VIF_KEYS: Record<string, VifKey> = {
  type: {
    field: 'nictype',
    parse: (value, fail) => {
      if (value === 'vif') return 'vif';
      if (value === 'ioemu') return 'vif_ioemu';
      return fail(`type must be 'vif' or 'ioemu'`);
    },
  },
  mac: { field: 'mac', parse: parseMac },
  bridge: { field: 'bridge', parse: asString },
  netdev: { field: 'gatewaydev', parse: asString }, // deprecated spelling of gatewaydev
  gatewaydev: { field: 'gatewaydev', parse: asString },
  ip: { field: 'ip', parse: asString },
  script: { field: 'script', parse: asString },
  backend: { field: 'backend_domname', parse: asString },
  vifname: { field: 'ifname', parse: asString },
  model: { field: 'model', parse: asString },
  rate: { parse: parseRate },
  forwarddev: { field: 'coloft_forwarddev', parse: asString },
  devid: { field: 'devid', parse: unsignedDecimal(0x7fff_ffff) },
  mtu: { field: 'mtu', parse: unsignedDecimal(0x7fff_ffff) },
  ...Object.fromEntries(NIC_COLO_FIELDS.map((field) => [field, { field, parse: asString }])),
};

/** Bare words xl accepts among the vif keys. */
const VIF_WORDS: Record<string, [string, JsonValue]> = {
  trusted: ['trusted', 'True'],
  untrusted: ['trusted', 'False'],
};

/**
 * Parses `xl network-attach` arguments (KEY=VALUE words, or one
 * comma-separated vif spec string as in a domain config's vif list).
 * Later keys override earlier ones, as in xl; unknown keys are errors.
 */
export function parseVifSpec(words: string | readonly string[]): DeviceJson {
  const list = typeof words === 'string' ? [words] : words;
  const tokens = list.flatMap((word) => word.split(',')).filter((token) => token !== '');
  const spec = list.join(' ');
  const nic = new Map<string, JsonValue>();
  for (const token of tokens) {
    const fail: (reason: string) => never = (reason) => { throw new SpecError('vif', spec, reason, token); };
    const word = VIF_WORDS[token];
    if (word) { nic.set(word[0], word[1]); continue; }
    const [key, value] = splitOnce(token, '=');
    if (key === 'accel') fail('accel is not supported by libxl');
    const entry = Object.hasOwn(VIF_KEYS, key) ? VIF_KEYS[key] : undefined;
    if (!entry || value === undefined) {
      fail(`unknown key '${key}' (known: ${[...Object.keys(VIF_KEYS).filter((k) => !k.startsWith('colo_')), ...Object.keys(VIF_WORDS)].join(', ')}, colo_*)`);
    }
    const parsed = entry.parse(value, fail);
    if (parsed instanceof Map) for (const [field, v] of parsed) nic.set(field, v);
    else nic.set(entry.field!, parsed);
  }
  return inFieldOrder(NIC_FIELDS, nic);
}
