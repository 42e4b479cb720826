// The wire client when things go wrong: bad replies from a fake server, a
// daemon killed mid-batch, and proof (through a counting proxy in front of the
// real xenstored) that requests really are in flight together.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startLocalXenstored } from '../../lib/localxen/xenstored.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { XsType } from '../../lib/xenstore/protocol.js';
import { XenStoreWireClient as WireClient } from '../../lib/xenstore/wire-client.js';
import { writeEntries } from '../../bench/wire-fixture.js';
import { frame, header, readFrames, type Frame } from '../harness/wire-frames.js';

const socketDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-wire-'));
afterAll(() => rmSync(socketDir, { recursive: true, force: true }));
let socketCount = 0;

/** A Unix-socket server answering each request frame with `respond`. */
async function fakeXenstored(respond: (socket: Socket, request: Frame) => void): Promise<{ path: string; server: Server }> {
  const path = join(socketDir, `fake-${socketCount++}`);
  const server = createServer((socket) => {
    socket.on('error', () => {});
    readFrames(socket, (request) => respond(socket, request));
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return { path, server };
}

async function withFake(respond: (socket: Socket, request: Frame) => void,
  body: (connection: WireClient) => Promise<void>): Promise<void> {
  const { path, server } = await fakeXenstored(respond);
  const connection = await WireClient.connect(path);
  try {
    await body(connection);
  } finally {
    await connection.close();
    await new Promise((resolve) => server.close(resolve));
  }
}

describe('bad replies close the connection with a typed error', () => {
  const cases: [string, (socket: Socket, request: Frame) => void, string][] = [
    ['an oversized length', (socket, request) => socket.write(header(request.type, request.reqId, 0, 0xffffffff)), 'ERR_XENSTORE_PROTOCOL'],
    ['an unknown req_id', (socket, request) => socket.write(frame(request.type, request.reqId + 1000, 'x')), 'ERR_XENSTORE_PROTOCOL'],
    ['a mismatched type', (socket, request) => socket.write(frame(XsType.DIRECTORY, request.reqId, 'a\0')), 'ERR_XENSTORE_PROTOCOL'],
    ['garbage bytes', (socket) => socket.write(Buffer.from('this is not xenstore at all, sorry!')), 'ERR_XENSTORE_PROTOCOL'],
    ['a truncated header', (socket) => socket.end(Buffer.from([2, 0, 0, 0, 1, 0, 0])), 'ERR_XENSTORE_CONNECTION_LOST'],
    ['a truncated payload', (socket, request) => socket.end(Buffer.concat([header(request.type, request.reqId, 0, 100), Buffer.from('short')])), 'ERR_XENSTORE_CONNECTION_LOST'],
    ['a hang-up', (socket) => socket.destroy(), 'ERR_XENSTORE_CONNECTION_LOST'],
  ];
  for (const [what, respond, code] of cases) {
    it(`${what} → ${code} for every pending request`, async () => {
      let answered = false;
      await withFake((socket, request) => {
        if (!answered) respond(socket, request);
        answered = true;
      }, async (connection) => {
        const results = await Promise.allSettled([
          connection.read('/a'), connection.readMany(['/b', '/c']), connection.readTree('/d'), connection.directory('/e'),
        ]);
        for (const result of results) {
          expect(result.status).toBe('rejected');
          expect((result as PromiseRejectedResult).reason).toMatchObject({ name: 'XenStoreError', code });
        }
        // The connection stays failed: later requests reject at once instead of hanging.
        await expect(connection.read('/a')).rejects.toMatchObject({ code });
      });
    });
  }

  it('maps an unknown errno name to EINVAL, as libxenstore does', async () => {
    await withFake((socket, request) => socket.write(frame(XsType.ERROR, request.reqId, 'EWHATEVER\0')), async (connection) => {
      await expect(connection.read('/a')).rejects.toMatchObject({ code: 'EINVAL', syscall: 'xs_read', path: '/a' });
    });
  });
});

describe('reply parsing', () => {
  it('reassembles replies split at every byte, skips watch events, and matches out-of-order replies', async () => {
    const held: Frame[] = [];
    await withFake((socket, request) => {
      held.push(request);
      if (held.length < 3) return;
      // Answer in reverse order, a watch event in between, one byte per write.
      const bytes = Buffer.concat([
        ...held.reverse().map((r) => frame(r.type, r.reqId, `value of ${r.payload.toString('latin1', 0, r.payload.length - 1)}`)),
        frame(XsType.WATCH_EVENT, 0, '/x\0token\0'),
      ]);
      // Deliberately not awaited: the fake daemon writes on while the client reads.
      void (async () => {
        for (const byte of bytes) {
          socket.write(Buffer.from([byte]));
          await new Promise((resolve) => setImmediate(resolve));
        }
      })();
    }, async (connection) => {
      expect(await connection.readMany(['/one', '/two', '/three'])).toEqual(['value of /one', 'value of /two', 'value of /three']);
    });
  });

  it('takes replies beyond 4096 bytes, as oxenstored sends for big listings, whole or split', async () => {
    // Larger than one socket read (64 KiB) too.
    const names = Array.from({ length: 8000 }, (_, i) => `child-${i}`);
    const listing = `${names.join('\0')}\0`;
    let split = false;
    await withFake((socket, request) => {
      const reply = frame(request.type, request.reqId, request.type === XsType.DIRECTORY ? listing : 'v');
      if (!split) return socket.write(reply);
      socket.write(reply.subarray(0, 10)); // inside the header, then the rest in two parts
      setTimeout(() => { socket.write(reply.subarray(10, 5000)); setTimeout(() => socket.write(reply.subarray(5000)), 5); }, 5);
    }, async (connection) => {
      expect(Buffer.byteLength(listing)).toBeGreaterThan(64 * 1024);
      expect(await connection.directory('/big')).toEqual(names);
      split = true;
      expect(await connection.directory('/big')).toEqual(names);
      expect(await connection.read('/after')).toBe('v');
    });
  });

  it('rejects requests still pending at close() with ERR_XENSTORE_CLOSED', async () => {
    await withFake(() => {}, async (connection) => {
      const outcome = connection.read('/never').catch((error: unknown) => error);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(connection.pending).toBe(1);
      await connection.close();
      expect(await outcome).toMatchObject({ code: 'ERR_XENSTORE_CLOSED' });
    });
  });
});

const hasPython = spawnSync('python3', ['-c', '']).status === 0;

describe.skipIf(!hasPython)('a full listen queue (xenstored listens with a backlog of 1)', () => {
  it('is retried until xenstored accepts, instead of failing with EAGAIN', async () => {
    const path = join(socketDir, `backlog-${socketCount++}`);
    // Listens with the smallest queue and accepts only after a line on stdin.
    const listener = spawn('python3', ['-c', [
      'import socket, sys',
      's = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(0)',
      'print("ready", flush=True); sys.stdin.readline()',
      'conns = []',
      'while True: conns.append(s.accept())',
    ].join('\n'), path], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      await new Promise((resolve) => listener.stdout!.once('data', resolve));
      const occupying = createConnection(path);
      await new Promise((resolve) => occupying.once('connect', resolve));
      const refused = await new Promise<NodeJS.ErrnoException>((resolve) => createConnection(path).once('error', resolve));
      expect(refused.code).toBe('EAGAIN');

      const connecting = WireClient.connect(path);
      setTimeout(() => listener.stdin!.write('go\n'), 10);
      const connection = await connecting;
      await connection.close();
      occupying.destroy();
    } finally {
      listener.kill();
    }
  });
});

describe('a daemon killed mid-batch', () => {
  it('rejects every pending request with ERR_XENSTORE_CONNECTION_LOST', async () => {
    const daemon = await startLocalXenstored();
    try {
      const connection = await WireClient.connect(daemon.socketPath);
      const entries = Array.from({ length: 500 }, (_, i): [string, string] => [`/killed/k${i}`, `v${i}`]);
      await writeEntries(connection, entries);
      process.kill(daemon.pid, 'SIGSTOP'); // nothing gets answered from here on
      const requests = [
        connection.readMany(Array.from({ length: 5000 }, (_, i) => `/killed/k${i % 500}`)),
        connection.read('/killed/k1'),
        connection.readTree('/killed'),
        connection.write('/killed/new', 'x'),
        connection.transactionStart(),
      ];
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(connection.pending).toBeGreaterThan(256);
      process.kill(daemon.pid, 'SIGKILL');
      const results = await Promise.allSettled(requests);
      for (const result of results) {
        expect(result.status).toBe('rejected');
        expect((result as PromiseRejectedResult).reason).toMatchObject({ name: 'XenStoreError', code: 'ERR_XENSTORE_CONNECTION_LOST' });
      }
      expect(connection.pending).toBe(0);
      await expect(connection.read('/killed/k1')).rejects.toMatchObject({ code: 'ERR_XENSTORE_CONNECTION_LOST' });
      await connection.close();
    } finally {
      await daemon.stop();
    }
  });
});

describe('pipelining through a counting proxy in front of the real xenstored', () => {
  const xs = useLocalXenstored();

  /**
   * Forwards both ways but holds xenstored's replies until `holdUntil` requests were seen
   * (or a safety timeout, recorded, so a serial client fails the test instead of hanging).
   */
  async function countingProxy(holdUntil: number) {
    const path = join(socketDir, `proxy-${socketCount++}`);
    const stats = { requestIds: [] as number[], replyIds: [] as number[], maxOutstanding: 0, releasedByTimeout: false };
    const server = createServer((client) => {
      const daemon = createConnection(xs.current.socketPath);
      const heldReplies: Buffer[] = [];
      let releasing = false;
      const release = () => {
        releasing = true;
        for (const chunk of heldReplies.splice(0)) client.write(chunk);
      };
      const timer = setTimeout(() => { stats.releasedByTimeout = true; release(); }, 3000);
      readFrames(client, (request) => {
        stats.requestIds.push(request.reqId);
        stats.maxOutstanding = Math.max(stats.maxOutstanding, stats.requestIds.length - stats.replyIds.length);
        daemon.write(frame(request.type, request.reqId, request.payload, request.txId));
        if (stats.requestIds.length >= holdUntil && !releasing) { clearTimeout(timer); release(); }
      });
      readFrames(daemon, (reply) => {
        stats.replyIds.push(reply.reqId);
        const bytes = frame(reply.type, reply.reqId, reply.payload, reply.txId);
        if (releasing) client.write(bytes);
        else heldReplies.push(bytes);
      });
      client.on('close', () => { clearTimeout(timer); daemon.destroy(); });
      client.on('error', () => {});
      daemon.on('error', () => client.destroy());
    });
    await new Promise<void>((resolve) => server.listen(path, resolve));
    return { path, stats, close: () => new Promise((resolve) => server.close(resolve)) };
  }

  it('has 1000 requests written before the first reply is read', async () => {
    const setup = await WireClient.connect(xs.current.socketPath);
    const entries = Array.from({ length: 1000 }, (_, i): [string, string] => [`/pipe/k${i}`, `v${i}`]);
    await writeEntries(setup, entries);
    await setup.close();

    const proxy = await countingProxy(1000);
    const connection = await WireClient.connect(proxy.path, { window: 1000 });
    const values = await connection.readMany(entries.map(([key]) => key));
    await connection.close();
    await proxy.close();
    expect(proxy.stats.releasedByTimeout).toBe(false);
    expect(values).toEqual(entries.map(([, value]) => value));
    expect(proxy.stats.maxOutstanding).toBe(1000);
    // req_ids are distinct and increasing; xenstored echoed them in order.
    const ids = proxy.stats.requestIds;
    expect(ids.every((id, i) => i === 0 || id === ids[i - 1]! + 1)).toBe(true);
    expect(proxy.stats.replyIds).toEqual(ids);
  });

  it('never has more than the window in flight', async () => {
    const proxy = await countingProxy(256);
    const connection = await WireClient.connect(proxy.path);
    const values = await connection.readMany(Array.from({ length: 1000 }, (_, i) => `/pipe/k${i}`));
    await connection.close();
    await proxy.close();
    expect(proxy.stats.releasedByTimeout).toBe(false);
    expect(values[999]).toBe('v999');
    expect(proxy.stats.maxOutstanding).toBe(256);
    expect(proxy.stats.requestIds).toHaveLength(1000);
  });
});
