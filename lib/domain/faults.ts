// Named crash points of the create-time save and of hotplug/unplug, for
// crash-safety tests. In a process started with test/harness/arm-fault.mjs
// (node --import), XEN_DOMCONFIG_FAULT=<point>[:<n>] makes it SIGKILL itself
// the n-th time (default 1) it reaches <point>: that module hands the spec
// over on globalThis (the CLI's bundle has its own copy of this file, so
// module state would not reach it). Anywhere else the variable means nothing
// and faultPoint() is a single comparison.

import { nameErrorClass, XenDomconfigError } from '../errors.js';

export const FAULT_POINTS = [
  // storeDomainConfiguration
  'store.before-write',
  'store.after-write',
  // addDevice, inside the transaction retry loop
  'add.locked',
  'add.template-written',
  'add.libxl-written',
  'add.frontend-written',
  'add.backend-written',
  'add.before-commit',
  'add.after-commit',
  'add.unlocked',
  'add.backend-ready',
  // removeDevice
  'remove.closing-committed',
  'remove.backend-closed',
  'remove.before-destroy',
  'remove.after-destroy',
  'remove.template-pruned',
] as const;

export type FaultPoint = (typeof FAULT_POINTS)[number];

export const FAULT_ENV = 'XEN_DOMCONFIG_FAULT';

export class FaultSpecError extends XenDomconfigError {
  declare readonly code: 'EINVAL';
  constructor(message: string) {
    super('EINVAL', message);
  }
}
nameErrorClass(FaultSpecError, 'FaultSpecError');

interface ArmedFault {
  point: FaultPoint;
  remaining: number;
}

/** Parses `<point>[:<n>]`; undefined or '' means no fault. */
export function parseFaultSpec(spec: string | undefined): ArmedFault | undefined {
  if (spec === undefined || spec === '') return undefined;
  const match = /^([a-z.-]+)(?::([1-9][0-9]{0,8}))?$/.exec(spec);
  const point = match?.[1] as FaultPoint | undefined;
  if (!match || !point || !FAULT_POINTS.includes(point)) {
    throw new FaultSpecError(
      `${FAULT_ENV}=${JSON.stringify(spec)}: expected <point>[:<n>] with <point> one of ${FAULT_POINTS.join(', ')}`,
    );
  }
  return { point, remaining: match[2] ? Number(match[2]) : 1 };
}

const ARMED_SPEC = Symbol.for('xen-domconfig.fault');
const handedOver = (globalThis as { [ARMED_SPEC]?: unknown })[ARMED_SPEC];
const armed = typeof handedOver === 'string' ? parseFaultSpec(handedOver) : undefined;

/** Whether a fault is set for this process (to skip work done only to report fault points). */
export const faultsArmed = armed !== undefined;

/** Marks a crash point; kills the process here when the environment asks for it. */
export function faultPoint(point: FaultPoint): void {
  if (armed === undefined || armed.point !== point) return;
  armed.remaining -= 1;
  if (armed.remaining === 0) process.kill(process.pid, 'SIGKILL');
}
