// node --import <this file> …: lets XEN_DOMCONFIG_FAULT=<point>[:<n>] kill the
// process the n-th time it reaches a named crash point (lib/domain/faults.ts).
// Crash tests and the demo start their children so; in any other process the
// library ignores the variable.
const spec = process.env.XEN_DOMCONFIG_FAULT;
if (spec) globalThis[Symbol.for('xen-domconfig.fault')] = spec;
