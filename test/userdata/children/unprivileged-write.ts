// Drops root (to nobody) after connecting to xenstore, then tries a write and
// a lock in a directory it cannot write; prints the error codes as JSON.
//   unprivileged-write <socket> <dir> <domid> <uuid>
import { TemplateStore } from '../../../lib/userdata/index.js';
import { XenStore } from '../../../lib/xenstore/index.js';
import { say } from './lines.js';

const [socket, dir, domid, uuid] = process.argv.slice(2);
const xenstore = XenStore.open({ path: socket! });
const store = new TemplateStore({ xenstore, dir: dir! });
// a test child: it runs as root on Linux, where both exist
process.setgid!(65534);
process.setuid!(65534);
const outcome = async (operation: () => Promise<unknown>) => {
  try {
    await operation();
    return 'ok';
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
};
say(JSON.stringify({
  write: await outcome(() => store.write(Number(domid), '{}', { uuid: uuid! })),
  lock: await outcome(() => store.lock(Number(domid), { uuid: uuid!, timeoutMs: 0 })),
}));
process.exit(0);
