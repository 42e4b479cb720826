// The pipelined wire client against the real C xenstored.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { XenStoreError } from '../../lib/xenstore/errors.js';
import {
  isValidXenStorePath, xenstoredSocketPath, XENSTORE_ABS_PATH_MAX, XENSTORE_PAYLOAD_MAX, type XenStoreNode,
} from '../../lib/xenstore/protocol.js';
import { XenStoreConnection } from '../../lib/xenstore/wire.js';
import { XenStoreWireClient as WireClient } from '../../lib/xenstore/wire-client.js';
import { populateSyntheticDomains, writeEntries } from '../../bench/wire-fixture.js';

const xs = useLocalXenstored();
let connection: WireClient;

beforeAll(async () => { connection = await WireClient.connect(xs.current.socketPath); });
afterAll(async () => { await connection?.close(); });

/** The same subtree walked one request at a time. */
async function walk(path: string, name: string): Promise<XenStoreNode> {
  const value = await connection.read(path);
  const children = [];
  for (const child of await connection.directory(path)) {
    children.push(await walk(path === '/' ? `/${child}` : `${path}/${child}`, child));
  }
  return { name, value, children };
}

describe('socket path and connect', () => {
  it('follows libxenstore: XENSTORED_PATH, else XENSTORED_RUNDIR/socket, else /var/run/xenstored/socket', () => {
    expect(xenstoredSocketPath({ XENSTORED_PATH: '/x/y', XENSTORED_RUNDIR: '/r' })).toBe('/x/y');
    expect(xenstoredSocketPath({ XENSTORED_RUNDIR: '/r' })).toBe('/r/socket');
    expect(xenstoredSocketPath({})).toBe('/var/run/xenstored/socket');
  });

  it('fails with ERR_XENSTORE_NO_SOCKET when no socket is there (a kernel device or nothing)', async () => {
    for (const path of [`${xs.current.rundir}/absent`, '/dev/null']) {
      const error = await XenStoreConnection.connect(path).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(XenStoreError);
      expect(error).toMatchObject({ code: 'ERR_XENSTORE_NO_SOCKET', syscall: 'connect', path });
    }
  });

  it('honours an aborted signal', async () => {
    const error = await XenStoreConnection.connect(xs.current.socketPath, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR' });
  });
});

describe('requests', () => {
  it('writes, reads, lists and removes', async () => {
    await connection.write('/wire/rt/a', 'alpha');
    await connection.write('/wire/rt/b', Buffer.from([0, 1, 2, 255]));
    await connection.write('/wire/rt/empty', '');
    expect(await connection.read('/wire/rt/a')).toBe('alpha');
    expect(await connection.readBuffer('/wire/rt/b')).toEqual(Buffer.from([0, 1, 2, 255]));
    expect(await connection.read('/wire/rt/empty')).toBe('');
    expect((await connection.directory('/wire/rt')).sort()).toEqual(['a', 'b', 'empty']);
    expect(await connection.directory('/wire/rt/a')).toEqual([]);
    await connection.rm('/wire/rt/a');
    expect(await connection.directory('/wire/rt')).not.toContain('a');
    await connection.rm('/wire/rt/a'); // removing a missing node is fine
  });

  it('keeps UTF-8 values intact', async () => {
    await connection.write('/wire/utf8', 'héllo ✓');
    expect(await connection.read('/wire/utf8')).toBe('héllo ✓');
  });

  it('rejects a missing node with the ENOENT XenStoreError libxenstore\'s errno gives', async () => {
    const error = await connection.read('/wire/missing').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(XenStoreError);
    expect(error).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'xs_read', path: '/wire/missing' });
    await expect(connection.directory('/wire/missing')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'xs_directory' });
    // RM of a node whose parent is missing is an error too.
    await expect(connection.rm('/wire/missing/child')).rejects.toMatchObject({ code: 'ENOENT', syscall: 'xs_rm' });
  });

  it('validates paths as xenstored does before sending', async () => {
    for (const path of ['', 'relative', '/trailing/', '/double//slash', '/bad char', '/dot.dot', '/ü',
      `/${'a'.repeat(XENSTORE_ABS_PATH_MAX)}`]) {
      expect(isValidXenStorePath(path)).toBe(false);
      await expect(connection.read(path)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'xs_read' });
    }
    expect(isValidXenStorePath('/')).toBe(true);
    expect(isValidXenStorePath('/local/domain/0/a_b-c@d')).toBe(true);
    await expect(connection.readMany(['/ok', 'bad'])).rejects.toMatchObject({ code: 'EINVAL' });
  });

  it('leaves the path check to a caller that made it (pathsChecked): xenstored still refuses a bad path', async () => {
    const trusting = await WireClient.connect(xs.current.socketPath, { pathsChecked: true });
    try {
      await expect(trusting.readMany(['/wire', '/double//slash'])).rejects.toMatchObject({ code: 'EINVAL', syscall: 'xs_read', path: '/double//slash' });
      await expect(trusting.read('/wire/missing')).rejects.toMatchObject({ code: 'ENOENT' });
      // The payload limit still holds: xenstored would drop the connection over a longer message.
      await expect(trusting.write('/wire/big', 'x'.repeat(XENSTORE_PAYLOAD_MAX))).rejects.toMatchObject({ code: 'E2BIG', syscall: 'xs_write' });
      expect(await trusting.read('/wire/utf8')).toBe('héllo ✓');
    } finally {
      await trusting.close();
    }
  });

  it('refuses transaction ids that do not fit the header', async () => {
    for (const txId of [-1, 1.5, Number.NaN, 2 ** 32]) {
      await expect(connection.read('/wire', txId)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'xs_read' });
      await expect(connection.transactionEnd(txId)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'xs_transaction_end' });
    }
    await expect(connection.transactionEnd(0)).rejects.toMatchObject({ code: 'EINVAL' });
    expect(await connection.read('/wire/utf8')).toBe('héllo ✓'); // the connection is unharmed
  });

  it('refuses payloads over 4096 bytes with E2BIG before sending', async () => {
    const path = '/wire/big';
    const fits = 'x'.repeat(XENSTORE_PAYLOAD_MAX - path.length - 1);
    await connection.write(path, fits);
    expect(await connection.read(path)).toBe(fits);
    await expect(connection.write(path, `${fits}x`)).rejects.toMatchObject({ code: 'E2BIG', syscall: 'xs_write', path });
    expect(await connection.read(path)).toBe(fits); // still usable
  });

  it('lists a child list longer than one payload through DIRECTORY_PART', async () => {
    const names = Array.from({ length: 700 }, (_, i) => `child-number-${i}`); // ≈ 11 KiB of names
    await writeEntries(connection, names.map((name) => [`/wire/wide/${name}`, name]));
    expect((await connection.directory('/wire/wide')).sort()).toEqual([...names].sort());
    const tree = await connection.readTree('/wire/wide');
    expect(tree.children.map((child) => child.value).sort()).toEqual([...names].sort());
  });
});

describe('readMany', () => {
  it('reads 5000 keys pipelined, in order, with undefined for missing ones', async () => {
    const entries = Array.from({ length: 5000 }, (_, i): [string, string] => [`/wire/many/${i % 50}/k${i}`, `v${i}`]);
    await writeEntries(connection, entries);
    const paths = entries.map(([path]) => path);
    paths.splice(2500, 0, '/wire/many/absent');
    const values = await connection.readMany(paths);
    expect(values).toHaveLength(5001);
    expect(values[2500]).toBeUndefined();
    values.splice(2500, 1);
    expect(values).toEqual(entries.map(([, value]) => value));
    expect(connection.pending).toBe(0);
    const buffers = await connection.readManyBuffers(paths.slice(0, 3));
    expect(buffers).toEqual([Buffer.from('v0'), Buffer.from('v1'), Buffer.from('v2')]);
    expect(await connection.readMany([])).toEqual([]);
  });
});

describe('readTree', () => {
  it('equals a recursive walk of the same subtree', async () => {
    await populateSyntheticDomains(connection, [3, 4], { vcpus: 3, disks: 2, nics: 2 });
    for (const path of ['/libxl', '/local/domain/3', '/libxl/4/device/vbd/51712/params']) {
      expect(await connection.readTree(path)).toEqual(await walk(path, path.slice(path.lastIndexOf('/') + 1)));
    }
    const root = await connection.readTree('/');
    expect(root.name).toBe('');
    expect(root.children.map((child) => child.name)).toContain('libxl');
  });

  it('rejects a missing root with ENOENT', async () => {
    await expect(connection.readTree('/wire/no-tree')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});

describe('transactions', () => {
  it('reads inside a transaction see its own view', async () => {
    await connection.write('/wire/tx/key', 'before');
    const tx = await connection.transactionStart();
    expect(tx).toBeGreaterThan(0);
    await connection.write('/wire/tx/key', 'inside', tx);
    await connection.write('/wire/tx/new', 'n', tx);
    expect(await connection.read('/wire/tx/key', tx)).toBe('inside');
    expect(await connection.readMany(['/wire/tx/key', '/wire/tx/new'], tx)).toEqual(['inside', 'n']);
    expect(await connection.read('/wire/tx/key')).toBe('before');
    expect(await connection.readMany(['/wire/tx/new'])).toEqual([undefined]);
    expect((await connection.readTree('/wire/tx', tx)).children.map((c) => c.name).sort()).toEqual(['key', 'new']);
    await connection.transactionEnd(tx);
    expect(await connection.read('/wire/tx/key')).toBe('inside');
  });

  it('aborts, and reports a conflicting commit as EAGAIN', async () => {
    const aborted = await connection.transactionStart();
    await connection.write('/wire/tx/key', 'dropped', aborted);
    await connection.transactionEnd(aborted, false);
    expect(await connection.read('/wire/tx/key')).toBe('inside');

    const tx = await connection.transactionStart();
    await connection.read('/wire/tx/key', tx);
    await connection.write('/wire/tx/key', 'mine', tx);
    await connection.write('/wire/tx/key', 'theirs');
    await expect(connection.transactionEnd(tx)).rejects.toMatchObject({ code: 'EAGAIN', syscall: 'xs_transaction_end' });
    expect(await connection.read('/wire/tx/key')).toBe('theirs');
    // An unknown transaction id is refused by xenstored.
    await expect(connection.read('/wire/tx/key', tx)).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
