// xl's disk syntax (xl-disk-configuration(5)) for block-attach: libxlutil's
// flex scanner (libxlu_disk_l.l) replayed rule by rule, and xlu_disk_parse's
// defaults after it.
import { schema } from '../../config/index.js';
import { inFieldOrder, SpecError, type DeviceJson, type JsonValue } from '../spec.js';

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
  return inFieldOrder(schema.device_disk, d);
}
