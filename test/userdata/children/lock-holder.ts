// Holds a domain-userdata lock for a parent test.
//   store <socket> <dir> <domid> <uuid>: TemplateStore.lock, "locked", waits
//     for "release", releases, "released".
//   raw <lockfile>: libxl's protocol by hand, plus "swap": a holder that
//     unlinks the file and locks a new one at the same path before letting go
//     of the old inode (what a release followed by another locker looks like
//     to a waiter).
import { closeSync, constants, openSync, unlinkSync } from 'node:fs';
import { native } from '../../../lib/native.js';
import { TemplateStore } from '../../../lib/userdata/index.js';
import { XenStore } from '../../../lib/xenstore/index.js';
import { commands, expectCommand, say } from './lines.js';

const [mode, ...args] = process.argv.slice(2);
const input = commands();

if (mode === 'store') {
  const [socket, dir, domid, uuid] = args;
  const xenstore = XenStore.open({ path: socket! });
  const store = new TemplateStore({ xenstore, dir: dir! });
  const release = await store.lock(Number(domid), { uuid: uuid!, timeoutMs: 30_000 });
  say('locked');
  await expectCommand(input, 'release');
  await release();
  say('released');
  await xenstore.close();
} else if (mode === 'raw') {
  const [path] = args;
  const lockAt = (file: string): number => {
    const fd = openSync(file, constants.O_RDWR | constants.O_CREAT, 0o666);
    if (!native().flock(fd, 'ex-nb')) throw new Error(`${file} is locked by someone else`);
    return fd;
  };
  let fd = lockAt(path!);
  say('locked');
  await expectCommand(input, 'swap');
  unlinkSync(path!);
  const replacement = openSync(path!, 'wx+', 0o666);
  if (!native().flock(replacement, 'ex-nb')) throw new Error('new lock file is locked by someone else');
  closeSync(fd);
  fd = replacement;
  say('swapped');
  await expectCommand(input, 'release');
  unlinkSync(path!);
  closeSync(fd);
  say('released');
} else {
  throw new Error(`unknown mode ${mode}`);
}
process.exit(0);
