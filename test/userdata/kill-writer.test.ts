// A writer killed with SIGKILL at random moments never leaves a torn, empty
// or missing template: the file is always a complete version, never older
// than the last one seen, and at most libxl's one temporary file exists,
// which the next write reuses and removes.
// XEN_DOMCONFIG_KILL_TRIALS sets the number of kills (default 40).
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { TemplateStore } from '../../lib/userdata/index.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { spawnChild } from './child.js';

const xsd = useLocalXenstored();
const TRIALS = Number(process.env.XEN_DOMCONFIG_KILL_TRIALS ?? 40);
const DOMID = 3;
const UUID = 'a3c1e2f4-5b6d-4e7f-8091-a2b3c4d5e6f7';
const PADDING = 256 * 1024; // a write takes long enough to be hit in the middle
const MAX_DELAY_MS = 40;

let xs: XenStore;
let dir: string;

beforeAll(() => {
  xs = XenStore.open({ path: xsd.current.socketPath });
  dir = mkdtempSync(join(tmpdir(), 'xen-domconfig-kill-'));
});
afterAll(async () => {
  await xs?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The generation of a complete version; throws on anything else. */
function completeGeneration(bytes: Buffer): number {
  expect(bytes.at(-1)).toBe(0);
  const document = JSON.parse(bytes.subarray(0, -1).toString('utf8')) as { generation: number; pad: string; length: number };
  expect(document.pad).toBe(String(document.generation % 10).repeat(PADDING));
  expect(document.length).toBe(PADDING);
  return document.generation;
}

it(`survives ${TRIALS} SIGKILLs of a writer at random moments`, async () => {
  const store = new TemplateStore({ xenstore: xs, dir });
  const { data, temporary } = store.paths(DOMID, UUID);
  await store.write(DOMID, JSON.stringify({ generation: 0, pad: '0'.repeat(PADDING), length: PADDING }), { uuid: UUID });
  let lastSeen = 0;
  let leftTemporary = 0;
  const started = performance.now();

  for (let trial = 0; trial < TRIALS; trial++) {
    const writer = spawnChild('writer.ts', [xsd.current.socketPath, dir, String(DOMID), UUID, String(lastSeen + 1), String(PADDING)]);
    await writer.line('writing');
    await new Promise((resolve) => setTimeout(resolve, Math.random() * MAX_DELAY_MS));
    writer.process.kill('SIGKILL');
    expect((await writer.exited).signal).toBe('SIGKILL');

    const generation = completeGeneration(readFileSync(data));
    expect(generation).toBeGreaterThanOrEqual(lastSeen);
    lastSeen = generation;
    const names = readdirSync(dir);
    expect(names.filter((name) => name !== `userdata-d.${DOMID}.${UUID}.libxl-json` && name !== `userdata-n.${DOMID}.${UUID}.libxl-json`)).toEqual([]);
    if (existsSync(temporary)) leftTemporary++;
  }

  await store.write(DOMID, JSON.stringify({ generation: lastSeen + 1, pad: String((lastSeen + 1) % 10).repeat(PADDING), length: PADDING }), { uuid: UUID });
  expect(readdirSync(dir)).toEqual([`userdata-d.${DOMID}.${UUID}.libxl-json`]);
  expect(completeGeneration(readFileSync(data))).toBe(lastSeen + 1);
  console.log(`kill-writer: ${TRIALS} kills in ${((performance.now() - started) / 1000).toFixed(1)} s, `
    + `${lastSeen} generations written, ${leftTemporary} kills left a temporary file behind`);
}, Math.max(60_000, TRIALS * 2_000));
