// One private real xenstored per test file. XEN_DOMCONFIG_DAEMON=oxenstored
// makes it the OCaml oxenstored instead (test/xenstore/oxenstored.test.ts
// runs the conformance suites so).
import { afterAll, beforeAll } from 'vitest';
import {
  startLocalXenstored, type LocalXenstored, type LocalXenstoredDaemon, type LocalXenstoredOptions,
} from '../../lib/localxen/xenstored.js';

/** The daemon the tests start: $XEN_DOMCONFIG_DAEMON, C xenstored by default. */
export function testDaemon(): LocalXenstoredDaemon {
  const daemon = process.env.XEN_DOMCONFIG_DAEMON || 'xenstored';
  if (daemon !== 'xenstored' && daemon !== 'oxenstored') {
    throw new Error(`XEN_DOMCONFIG_DAEMON must be xenstored or oxenstored, not ${JSON.stringify(daemon)}`);
  }
  return daemon;
}

/** Starts a xenstored before the file's tests and stops it after; read `.current` inside tests. */
export function useLocalXenstored(options: LocalXenstoredOptions = {}): { readonly current: LocalXenstored } {
  const holder: { current?: LocalXenstored } = {};
  beforeAll(async () => { holder.current = await startLocalXenstored({ daemon: testDaemon(), ...options }); });
  afterAll(async () => { await holder.current?.stop(); });
  return {
    get current(): LocalXenstored {
      if (!holder.current) throw new Error('xenstored not started yet (use inside a test)');
      return holder.current;
    },
  };
}
