// Run by arm64.test.ts with Node for arm64 under qemu-aarch64: the package's
// own loader picks the arm64 prebuild (PREBUILDS_ONLY keeps node-gyp-build off
// build/, this machine's x64 build), and XenStore talks to the test's
// xenstored through the arm64 libxenstore. Prints what it saw as JSON.
import { readFileSync } from 'node:fs';
import { XenStore } from '../../dist/lib/index.js';
import { native } from '../../dist/lib/native.js';

const [socket, base] = process.argv.slice(2);
// pipelined: false sends list through libxenstore too, not the socket client.
const store = XenStore.open({ path: socket, pipelined: false });
try {
  const watch = store.watch(`${base}/watched`);
  await watch.next(); // xenstored's event for the registration itself
  await store.write(`${base}/written`, `from ${process.arch}`);
  await store.mkdir(`${base}/dir`);
  const inTransaction = await store.transaction(async (tx) => {
    await tx.write(`${base}/dir/in-transaction`, 'committed');
    return tx.list(`${base}/dir`);
  });
  await store.write(`${base}/watched`, 'changed');
  const event = await watch.next();
  await watch.return?.();
  const mapped = readFileSync('/proc/self/maps', 'utf8').split('\n')
    .map((line) => line.split(/\s+/).slice(5).join(' '))
    .filter((file) => /libxenstore|xen-domconfig/.test(file));
  console.log(JSON.stringify({
    arch: process.arch,
    library: native().libraryStatus(),
    mapped: [...new Set(mapped)],
    readBack: await store.read(`${base}/written`),
    fromTest: await store.read(`${base}/from-test`),
    list: (await store.list(base)).sort(),
    inTransaction,
    event: event.value,
  }));
} finally {
  await store.close();
}
