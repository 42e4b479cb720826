// The native contract of lib/native.ts, below the XenStore class: handle
// selection, transaction pinning and argument checks of the C++ side.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { ANY_SLOT, NativeOp, native, type NativeConnection } from '../../lib/native.js';

const daemon = useLocalXenstored();
let connection: NativeConnection;
beforeAll(() => { connection = new (native().Connection)(daemon.current.socketPath, 4); });
afterAll(async () => { await connection?.close(); });

describe('native connection', () => {
  it('spreads concurrent async requests over the idle handles', async () => {
    const started = await Promise.all(Array.from({ length: 4 }, () => connection.requestAsync(NativeOp.transactionStart, ANY_SLOT, 0, undefined)));
    expect(started.map(([slot]) => slot).sort()).toEqual([0, 1, 2, 3]);
    await Promise.all(started.map(([slot, id]) => connection.requestAsync(NativeOp.transactionEnd, slot, id, undefined, true)));
  });

  it('keeps a transaction on the handle that started it', async () => {
    const [slot, id] = connection.request(NativeOp.transactionStart, ANY_SLOT, 0, undefined);
    connection.request(NativeOp.write, slot, id, '/native/tx', 'in-tx');
    expect(await connection.requestAsync(NativeOp.read, slot, id, '/native/tx')).toBe('in-tx');
    expect(connection.request(NativeOp.read, ANY_SLOT, 0, '/native/tx')).toBeUndefined();
    connection.request(NativeOp.transactionEnd, slot, id, undefined, false);
    expect(connection.request(NativeOp.read, ANY_SLOT, 0, '/native/tx')).toBe('in-tx');
    expect(() => connection.request(NativeOp.read, ANY_SLOT, id, '/native/tx')).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_VALUE' }));
  });

  it('rejects unknown ops, slots and argument shapes with TypeErrors', () => {
    const request = connection.request as (...args: unknown[]) => unknown;
    const bad: unknown[][] = [
      [99, ANY_SLOT, 0, '/x'],
      [NativeOp.read, 4, 0, '/x'],
      [NativeOp.read, 'a', 0, '/x'],
      [NativeOp.read, ANY_SLOT, -2, '/x'],
      [NativeOp.read],
      [NativeOp.write, ANY_SLOT, 0, '/x', 12],
      [NativeOp.setPermissions, ANY_SLOT, 0, '/x', [1]],
      [NativeOp.setPermissions, ANY_SLOT, 0, '/x', [1, 8]],
      [NativeOp.transactionEnd, ANY_SLOT, 0, undefined, false],
      [NativeOp.batch, ANY_SLOT, 0, undefined, 'steps'],
      [NativeOp.batch, ANY_SLOT, 0, undefined, [NativeOp.read, '/x']],
      [NativeOp.batch, ANY_SLOT, 0, undefined, [NativeOp.batch, undefined, []]],
      [NativeOp.batch, ANY_SLOT, 0, undefined, [NativeOp.readTree, '/x', undefined]],
      [NativeOp.batch, ANY_SLOT, 0, undefined, [NativeOp.write, '/x', 12]],
      [NativeOp.batch, ANY_SLOT, 0, undefined, [99, '/x', undefined]],
    ];
    for (const args of bad) {
      expect(() => request.apply(connection, args), JSON.stringify(args)).toThrow(TypeError);
    }
    expect(() => new (native().Connection)(daemon.current.socketPath, 0)).toThrow(TypeError);
    expect(() => new (native().Watcher)(daemon.current.socketPath, 'not a function' as never)).toThrow(TypeError);
  });

  it('refuses watcher calls after close', () => {
    const watcher = new (native().Watcher)(daemon.current.socketPath, () => undefined);
    watcher.close();
    watcher.close();
    expect(() => watcher.watch('/x', 't')).toThrow(expect.objectContaining({ code: 'ERR_XENSTORE_CLOSED' }));
  });
});
