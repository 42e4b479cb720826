// Rewrites a template in a loop until killed: generation n+1, n+2, … of a
// self-checking document, so a parent that kills it can tell a complete
// version from anything else.
//   writer <socket> <dir> <domid> <uuid> <first generation> <padding bytes>
import { TemplateStore } from '../../../lib/userdata/index.js';
import { XenStore } from '../../../lib/xenstore/index.js';
import { say } from './lines.js';

const [socket, dir, domid, uuid, first, padding] = process.argv.slice(2);
const store = new TemplateStore({ xenstore: XenStore.open({ path: socket! }), dir: dir! });
for (let generation = Number(first); ; generation++) {
  const pad = String(generation % 10).repeat(Number(padding));
  await store.write(Number(domid), JSON.stringify({ generation, pad, length: pad.length }), { uuid: uuid! });
  if (generation === Number(first)) say('writing');
}
