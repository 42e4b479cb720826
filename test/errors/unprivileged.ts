// Drops root (to nobody), then meets the permission failures of two layers:
// xenstored's root-only socket and a userdata folder it cannot write. Prints,
// for each, what test/errors/errors.test.ts checks of every error.
//   unprivileged <socket> <dir> <domid> <uuid>
import { exitCodeFor } from '../../lib/cli/errors.js';
import { XenDomconfigError } from '../../lib/errors.js';
import { TemplateStore } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';

const [socket, dir, domid, uuid] = process.argv.slice(2);
const xenstore = XenStore.open({ path: socket! });
const store = new TemplateStore({ xenstore, dir: dir! });
// a test child: it runs as root on Linux, where both exist
process.setgid!(65534);
process.setuid!(65534);

const outcome = async (operation: () => unknown) => {
  try {
    await operation();
    return { ok: true };
  } catch (error) {
    const { code, cause } = error as { code?: string; cause?: { code?: string } };
    return { instance: error instanceof XenDomconfigError, code, causeCode: cause?.code, exit: exitCodeFor(error) };
  }
};
process.stdout.write(`${JSON.stringify({
  socket: await outcome(async () => { await using other = XenStore.open({ path: socket! }); return other.read('/local'); }),
  write: await outcome(() => store.write(Number(domid), '{}', { uuid: uuid! })),
})}\n`);
process.exit(0);
