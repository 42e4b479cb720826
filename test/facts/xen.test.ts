// lib/xen.ts holds the facts of Xen and libxl every layer shares: each one is
// checked here against Xen's own headers as Debian's libxen-dev installs them.
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { schema } from '../../lib/config/index.js';
import { DOMAIN_TYPES, DOMID_FIRST_RESERVED, MAX_DEVID, MAX_DOMID, XenbusState } from '../../lib/xen.js';

const HEADERS = ['/usr/include/xen/xen.h', '/usr/include/xen/io/xenbus.h', '/usr/include/_libxl_types.h', '/usr/include/libxl.h'];
const installed = HEADERS.every((path) => existsSync(path));
if (!installed) console.warn('xen facts: skipped, Xen headers (libxen-dev) are not installed');

/** Every `<prefix><name> = <value>` of a C enum in `header`. */
function enumMembers(header: string, prefix: string): Record<string, number> {
  const text = readFileSync(header, 'utf8');
  const members: Record<string, number> = {};
  for (const [, name, value] of text.matchAll(new RegExp(`\\b${prefix}(\\w+)\\s*=\\s*(-?\\d+)`, 'g'))) members[name!] = Number(value);
  return members;
}

describe.runIf(installed)('Xen facts', () => {
  it("DOMID_FIRST_RESERVED is xen.h's, and MAX_DOMID the domid before it", () => {
    const text = readFileSync('/usr/include/xen/xen.h', 'utf8');
    const defined = /#define DOMID_FIRST_RESERVED\s+xen_mk_uint\((0x[0-9A-Fa-f]+)\)/.exec(text);
    expect(defined).not.toBeNull();
    expect(DOMID_FIRST_RESERVED).toBe(Number(defined![1]));
    expect(MAX_DOMID).toBe(DOMID_FIRST_RESERVED - 1);
  });

  it('XenbusState has the members and numbers of enum xenbus_state', () => {
    expect(XenbusState).toEqual(enumMembers('/usr/include/xen/io/xenbus.h', 'XenbusState'));
  });

  it('DOMAIN_TYPES are the members of libxl_domain_type but INVALID, which the schema adds back', () => {
    const members = Object.keys(enumMembers('/usr/include/_libxl_types.h', 'LIBXL_DOMAIN_TYPE_'));
    expect(members).toContain('INVALID');
    expect([...DOMAIN_TYPES].sort()).toEqual(members.filter((name) => name !== 'INVALID').map((name) => name.toLowerCase()).sort());
    expect([...schema.domain_type.values].sort()).toEqual(['invalid', ...DOMAIN_TYPES].sort());
  });

  it('MAX_DEVID is the largest libxl_devid, a C int', () => {
    expect(readFileSync('/usr/include/libxl.h', 'utf8')).toMatch(/typedef int libxl_devid;/);
    expect(MAX_DEVID).toBe(2 ** 31 - 1);
  });
});
