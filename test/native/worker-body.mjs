// Worker thread for worker.test.ts: uses the addon directly (plain JS), then
// leaves with requests and a watch in flight, the way workerData.exit says:
// 'exit' calls process.exit() from inside the watch callback, 'terminate'
// waits to be terminated by the parent.
import { createRequire } from 'node:module';
import { parentPort, workerData } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const addon = process.env.XEN_DOMCONFIG_NATIVE
  ? require(process.env.XEN_DOMCONFIG_NATIVE)
  : require('node-gyp-build')(workerData.root);
const connection = new addon.Connection(workerData.socket, 2);
let fired = 0;
const watcher = new addon.Watcher(workerData.socket, () => {
  fired++;
  for (let i = 0; i < 20; i++) connection.requestAsync(9, -1, 0, '/');
  connection.requestAsync(2, -1, 0, `/worker/${workerData.id}/n${fired}`, 'x');
  if (workerData.exit === 'exit' && fired === 2) process.exit(0);
  if (workerData.exit === 'terminate') parentPort.postMessage('busy');
});
watcher.watch(`/worker/${workerData.id}`, 'token');
