// One private real xenstored per test file.
import { afterAll, beforeAll } from 'vitest';
import { startLocalXenstored, type LocalXenstored, type LocalXenstoredOptions } from '../../lib/localxen/xenstored.js';

/** Starts a xenstored before the file's tests and stops it after; read `.current` inside tests. */
export function useLocalXenstored(options: LocalXenstoredOptions = {}): { readonly current: LocalXenstored } {
  const holder: { current?: LocalXenstored } = {};
  beforeAll(async () => { holder.current = await startLocalXenstored(options); });
  afterAll(async () => { await holder.current?.stop(); });
  return {
    get current(): LocalXenstored {
      if (!holder.current) throw new Error('xenstored not started yet (use inside a test)');
      return holder.current;
    },
  };
}
