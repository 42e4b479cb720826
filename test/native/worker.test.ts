// Worker threads that end with requests and watches in flight: the process
// must survive (the addon is unloaded with the worker, so nothing of it may
// run afterwards).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { useLocalXenstored } from '../harness/xenstored.js';
import { packageRoot } from '../../lib/util/package-root.js';

const daemon = useLocalXenstored();
const body = new URL('./worker-body.mjs', import.meta.url);

function runWorker(id: number, exit: 'exit' | 'terminate'): Promise<number> {
  const worker = new Worker(body, { workerData: { socket: daemon.current.socketPath, root: packageRoot(), id, exit } });
  if (exit === 'terminate') worker.once('message', () => void worker.terminate());
  return new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.once('exit', resolve);
  });
}

describe('worker threads', () => {
  it('survive process.exit() inside a watch callback and terminate() with work in flight', async () => {
    for (let id = 0; id < 6; id++) {
      expect(await runWorker(id, id % 2 === 0 ? 'exit' : 'terminate')).toBe(id % 2 === 0 ? 0 : 1);
    }
  });
});
