// `xen-domconfig watch` end to end: the built command against a private real
// xenstored; each change is a line as soon as it is known (NDJSON with
// --json), and SIGINT, SIGTERM and a closed pipe end it cleanly.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenStore } from '../../lib/xenstore/index.js';
import { createDomain, tempUserdataDir } from '../domain/fixture.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { CLI } from './run.js';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
let store: XenStore;

beforeAll(async () => {
  store = XenStore.open({ path: xs.current.socketPath });
  await createDomain(store, userdata.dir, { domid: 1, name: 'alpha', type: 'pv', targetMemKb: 524288, maxMemKb: 1048576 });
  await createDomain(store, userdata.dir, { domid: 2, name: 'beta', type: 'pvh' });
});
afterAll(async () => {
  await store?.close();
  userdata.remove();
});

interface Watching {
  child: ChildProcessWithoutNullStreams;
  /** The next line of standard output. */
  line(): Promise<string>;
  stderr(): string;
  exit: Promise<[number | null, NodeJS.Signals | null]>;
}

function watch(...args: string[]): Watching {
  const child = spawn(process.execPath, [CLI, '--xenstore', xs.current.socketPath, '--userdata-dir', userdata.dir, 'watch', ...args]);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  const exit = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  return {
    child,
    async line() {
      const { value, done } = await lines.next();
      if (done) throw new Error(`watch ended: ${stderr}`);
      return value as string;
    },
    stderr: () => stderr,
    exit,
  };
}

describe('watch', () => {
  it('--json --initial: a line per domain, then one per change with its JSON paths; SIGINT ends it with 130', async () => {
    const watching = watch('--json', '--initial');
    const initial = [JSON.parse(await watching.line()), JSON.parse(await watching.line())];
    expect(initial.map((event) => [event.type, event.domid, event.config.c_info.name])).toEqual([['added', 1, 'alpha'], ['added', 2, 'beta']]);
    expect(initial[0].config.b_info.target_memkb).toBe(524288);
    await store.write('/local/domain/1/memory/target', '131072');
    const changed = JSON.parse(await watching.line());
    expect(changed).toMatchObject({ type: 'changed', domid: 1, changes: [{ path: 'config.b_info.target_memkb', old: 524288, new: 131072 }] });
    expect(Date.parse(changed.time)).not.toBeNaN();
    watching.child.kill('SIGINT');
    expect(await watching.exit).toEqual([130, null]);
    expect(watching.stderr()).toBe('');
  });

  it('a domain by name, readable lines: only its changes; SIGTERM ends it with 143', async () => {
    const watching = watch('alpha', '--initial');
    expect(await watching.line()).toBe('added    1 alpha'); // the watch is set up once it has printed
    await store.write('/local/domain/2/memory/target', '65536');
    await store.write('/local/domain/1/name', 'alpha2');
    expect(await watching.line()).toBe('changed  1 alpha2: config.c_info.name "alpha" -> "alpha2"');
    await store.write('/local/domain/1/name', 'alpha');
    expect(await watching.line()).toBe('changed  1 alpha: config.c_info.name "alpha2" -> "alpha"');
    watching.child.kill('SIGTERM');
    expect(await watching.exit).toEqual([143, null]);
    expect(watching.stderr()).toBe('');
  });

  it('a reader that goes away ends it at the next line with 141, quietly', async () => {
    const watching = watch('--json', '--initial');
    await watching.line();
    watching.child.stdout.destroy();
    await store.write('/local/domain/2/memory/target', '98304');
    expect(await watching.exit).toEqual([141, null]);
    expect(watching.stderr()).toBe('');
  });

  it('an unknown domain is a one-line error with exit code 4', async () => {
    const watching = watch('nosuch');
    expect(await watching.exit).toEqual([4, null]);
    expect(watching.stderr()).toMatch(/^xen-domconfig: no domain is named 'nosuch'\n/);
  });
});
