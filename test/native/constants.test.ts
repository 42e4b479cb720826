// The numbers the addon and the TypeScript share: the addon reports its own
// when it loads, and a report that differs is a NativeAddonError naming each
// difference, instead of requests that quietly do something else.
import { describe, expect, it } from 'vitest';
import { checkNativeConstants, EXPECTED_CONSTANTS, native, NativeAddonError, NativeOp, type NativeConstants } from '../../lib/native.js';
import { XS_ERRNO, XS_PERM, XENSTORE_PAYLOAD_MAX } from '../../lib/xenstore/protocol.js';

const FILE = '/some/where/xen_domconfig.node';

/** The error checkNativeConstants throws for `report`. */
function mismatch(report: unknown): NativeAddonError {
  try {
    checkNativeConstants(report, FILE);
  } catch (error) {
    expect(error).toBeInstanceOf(NativeAddonError);
    expect(error).toMatchObject({ code: 'ERR_XEN_DOMCONFIG_ADDON' });
    expect((error as Error).message).not.toContain('\n');
    expect((error as Error).message).toContain(`${FILE} was built from other sources than this TypeScript (`);
    expect((error as Error).message).toContain('npm rebuild xen-domconfig');
    return error as NativeAddonError;
  }
  throw new Error('the report passed');
}

type Report = { -readonly [K in keyof NativeConstants]: NativeConstants[K] extends number ? number : Record<string, number> };

/** The expected report with `change` applied to a deep copy. */
function changed(change: (report: Report) => void): unknown {
  const report = structuredClone(EXPECTED_CONSTANTS) as Report;
  change(report);
  return report;
}

describe('the addon\'s constants', () => {
  it('the built addon reports what the TypeScript expects, taken from protocol.ts', () => {
    const { constants } = native();
    expect(constants).toEqual(EXPECTED_CONSTANTS);
    expect(() => checkNativeConstants(constants, FILE)).not.toThrow();
    expect(constants.payloadMax).toBe(XENSTORE_PAYLOAD_MAX);
    expect(constants.permissions).toEqual(XS_PERM);
    expect(constants.ops).toEqual(NativeOp);
    for (const [name, errno] of Object.entries(XS_ERRNO)) expect(constants.errors[name]).toBe(errno);
    expect(constants.errors).toMatchObject({ ERR_XENSTORE_CLOSED: 9, ERR_DLOPEN_FAILED: 2 });
  });

  it('an addon without a report (built before it had one) is refused', () => {
    expect(mismatch(undefined).message).toContain('constants is missing');
    expect(mismatch({ ...EXPECTED_CONSTANTS, errors: undefined }).message).toContain('constants.errors is missing');
  });

  it('renumbered, missing and unknown requests are each named', () => {
    const { message } = mismatch(changed((report) => {
      const { ops } = report;
      [ops.read, ops.write] = [ops.write!, ops.read!];
      delete ops.transactionEnd;
      ops.frobnicate = 14;
    }));
    expect(message).toContain('constants.ops.read is 2, expected 0');
    expect(message).toContain('constants.ops.write is 0, expected 2');
    expect(message).toContain('constants.ops.transactionEnd is missing, expected 13');
    expect(message).toContain('constants.ops.frobnicate is unknown here');
  });

  it('another pool limit, payload limit or permission bit', () => {
    expect(mismatch(changed((report) => { report.maxPoolSize = 128; })).message).toContain('constants.maxPoolSize is 128, expected 64');
    expect(mismatch(changed((report) => { report.payloadMax = 8192; })).message).toContain('constants.payloadMax is 8192, expected 4096');
    expect(mismatch(changed((report) => { report.permissions.write = 4; })).message)
      .toContain('constants.permissions.write is 4, expected 2');
  });

  it('an error raised with another errno, or under another code', () => {
    // EISCONN is 56 on the BSDs: a build whose errno numbers are not this host's.
    expect(mismatch(changed((report) => { report.errors.EISCONN = 56; })).message)
      .toContain('constants.errors.EISCONN is 56, expected 106');
    const { message } = mismatch(changed((report) => {
      const { errors } = report;
      errors.ERR_XENSTORE_GONE = errors.ERR_XENSTORE_CLOSED!;
      delete errors.ERR_XENSTORE_CLOSED;
    }));
    expect(message).toContain('constants.errors.ERR_XENSTORE_CLOSED is missing, expected 9');
    expect(message).toContain('constants.errors.ERR_XENSTORE_GONE is unknown here');
  });
});
