// Exercises every native entry point many times, for scripts/native-asan.sh:
// run under AddressSanitizer/LeakSanitizer (or valgrind) against a running
// xenstored at XENSTORED_PATH. Plain JS so that no TypeScript tooling runs
// inside the instrumented process. ROUNDS sets the repetitions.
import { createRequire } from 'node:module';
import { openSync, closeSync, unlinkSync } from 'node:fs';

const require = createRequire(import.meta.url);
const addon = require(process.env.XEN_DOMCONFIG_NATIVE);
const socket = process.env.XENSTORED_PATH;
const rounds = Number(process.env.ROUNDS ?? 20);
const Op = { read: 0, readBuffer: 1, write: 2, directory: 3, mkdir: 4, rm: 5, getPermissions: 6, setPermissions: 7,
  readMany: 8, readTree: 9, getDomainPath: 10, isDomainIntroduced: 11, transactionStart: 12, transactionEnd: 13, batch: 14 };
const ANY = -1;

class DriverError extends Error {}
addon.setErrorConstructor(DriverError);

function expectThrow(call, code) {
  try {
    call();
  } catch (error) {
    if (code && error.code !== code) throw new Error(`expected ${code}, got ${error.code}: ${error.message}`);
    return;
  }
  throw new Error(`expected a throw (${code})`);
}

async function round(i) {
  const c = new addon.Connection(socket, 4);
  const base = `/stress/r${i}`;
  for (let k = 0; k < 20; k++) c.request(Op.write, ANY, 0, `${base}/d${k}/name`, `dom${k}`);
  c.request(Op.write, ANY, 0, `${base}/bin`, Buffer.from([0, 1, 0, 2]));
  c.request(Op.read, ANY, 0, `${base}/d1/name`);
  c.request(Op.readBuffer, ANY, 0, `${base}/bin`);
  c.request(Op.directory, ANY, 0, base);
  c.request(Op.mkdir, ANY, 0, `${base}/empty`);
  c.request(Op.setPermissions, ANY, 0, `${base}/bin`, [5, 0, 7, 1, 9, 3]);
  c.request(Op.getPermissions, ANY, 0, `${base}/bin`);
  c.request(Op.readMany, ANY, 0, undefined, Array.from({ length: 30 }, (_, k) => `${base}/d${k}/name`));
  c.request(Op.readTree, ANY, 0, base);
  c.request(Op.getDomainPath, ANY, 0, undefined, 3);
  c.request(Op.isDomainIntroduced, ANY, 0, undefined, 0);
  const [slot, id] = c.request(Op.transactionStart, ANY, 0, undefined);
  c.request(Op.write, slot, id, `${base}/tx`, 'x');
  c.request(Op.readTree, slot, id, base);
  c.request(Op.batch, slot, id, undefined, [Op.rm, `${base}/b`, undefined, Op.mkdir, `${base}/b`, undefined,
    Op.setPermissions, `${base}/b`, [0, 0, 5, 1], Op.write, `${base}/b/k`, 'v', Op.read, `${base}/b/k`, undefined, Op.directory, `${base}/b`, undefined]);
  c.request(Op.transactionEnd, slot, id, undefined, i % 2 === 0);
  expectThrow(() => c.request(Op.batch, ANY, 0, undefined, [Op.write, `${base}/ok`, '1', Op.setPermissions, '/no/such', [0, 0]]), 'ENOENT');
  expectThrow(() => c.request(Op.batch, ANY, 0, undefined, [Op.write, `${base}/ok`, 'x'.repeat(5000)]), 'E2BIG');
  expectThrow(() => c.request(Op.batch, ANY, 0, undefined, [Op.batch, undefined, []]), 'ERR_INVALID_ARG_VALUE');
  expectThrow(() => c.request(Op.read, ANY, 0, 'bad//path'), 'EINVAL');
  expectThrow(() => c.request(Op.rm, ANY, 0, '/no/such/parent'), 'ENOENT');
  expectThrow(() => c.request(Op.write, ANY, 0, `${base}/big`, 'x'.repeat(5000)), 'E2BIG');
  expectThrow(() => c.request(Op.write, ANY, 0, `${base}/big`, 'x'.repeat(4095)), 'E2BIG');
  expectThrow(() => c.request(Op.read, ANY, 0, '/a\0b'), 'ERR_INVALID_ARG_VALUE');
  expectThrow(() => c.request(Op.readMany, ANY, 0, undefined, ['/a', 1]), 'ERR_INVALID_ARG_TYPE');
  expectThrow(() => c.request(Op.getPermissions, ANY, 0, '/none'), 'ENOENT');

  const asyncs = [];
  for (let k = 0; k < 40; k++) asyncs.push(c.requestAsync(Op.read, ANY, 0, `${base}/d${k % 25}/name`));
  asyncs.push(c.requestAsync(Op.readTree, ANY, 0, base));
  asyncs.push(c.requestAsync(Op.readMany, ANY, 0, undefined, [`${base}/d1/name`, `${base}/nope`]));
  asyncs.push(c.requestAsync(Op.read, ANY, 0, 'bad//').catch((error) => error));
  asyncs.push(c.requestAsync(Op.getPermissions, ANY, 0, `${base}/bin`));
  asyncs.push(c.requestAsync(Op.batch, ANY, 0, undefined, [Op.write, `${base}/a`, 'x', Op.read, `${base}/a`, undefined, Op.rm, `${base}/a`, undefined]));
  await Promise.all(asyncs);

  const events = [];
  const watcher = new addon.Watcher(socket, (batch) => { if (batch) events.push(...batch); });
  watcher.watch(base, 'tok');
  c.request(Op.write, ANY, 0, `${base}/w`, '1');
  await new Promise((resolve) => setTimeout(resolve, 10));
  watcher.unwatch(base, 'tok');
  expectThrow(() => watcher.unwatch(base, 'tok'));
  watcher.close();
  if (events.length < 4) throw new Error(`watch events missing: ${events}`);

  c.request(Op.rm, ANY, 0, base);
  // close with work in flight: the requests finish, then the handles close
  const inflight = Array.from({ length: 20 }, () => c.requestAsync(Op.read, ANY, 0, '/tool/xenstored'));
  const closing = c.close();
  expectThrow(() => c.request(Op.read, ANY, 0, '/x'), 'ERR_XENSTORE_CLOSED');
  await Promise.all([...inflight, closing]);
}

for (let i = 0; i < rounds; i++) await round(i);

// a connection and a watcher dropped without close: their finalizers close the handles
(() => {
  new addon.Connection(socket, 2).request(Op.read, ANY, 0, '/tool');
  new addon.Watcher(socket, () => undefined).watch('/tool', 'dropped');
})();

const lockFile = `/tmp/xen-domconfig-stress-${process.pid}.lock`;
const fd = openSync(lockFile, 'w');
addon.flock(fd, 'ex');
addon.flock(fd, 'un');
closeSync(fd);
unlinkSync(lockFile);

// the userdata file steps: lock attempts (held, busy, replaced), release, small reads, failures
for (let i = 0; i < rounds * 10; i++) {
  const held = addon.tryLockFile(lockFile);
  const busy = addon.tryLockFile(lockFile);
  addon.unlockFile(lockFile, held.fd);
  if (addon.tryLockFile(lockFile, busy.fd).state !== 'replaced') throw new Error('lock: expected replaced');
  const again = addon.tryLockFile(lockFile);
  addon.unlockFile(lockFile, again.fd);
  if (addon.readSmallFile('/proc/self/status', 1 << 20).length === 0) throw new Error('readSmallFile: empty');
  expectThrow(() => addon.readSmallFile('/proc/self/status', 10), 'EFBIG');
  expectThrow(() => addon.readSmallFile(`${lockFile}.none`, 10), 'ENOENT');
  expectThrow(() => addon.tryLockFile('/no/such/dir/lock'), 'ENOENT');
  expectThrow(() => addon.tryLockFile(lockFile, 'x'));
  expectThrow(() => addon.readSmallFile(lockFile));
}

globalThis.gc?.();
await new Promise((resolve) => setTimeout(resolve, 50));
globalThis.gc?.();
console.log(`stress driver: ${rounds} rounds ok`);
process.exit(0);
