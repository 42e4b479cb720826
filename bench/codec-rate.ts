// The template codec's rate: parse + format round trips a second, the best of
// a few passes, over the template texts in the files named on the command line.
// The bench runs it in a process of its own, so the figure is the codec's: in
// the bench process, after its lists, the same loop ran up to 2× slower (the
// lists had left the codec's inline caches shaped by other work).
import { readFileSync } from 'node:fs';
import { formatDomainConfig, parseDomainConfig } from '../lib/config/index.js';

const PASSES = 9;
const ROUND_TRIPS = 2000;

const texts = process.argv.slice(2).map((file) => readFileSync(file, 'utf8'));
if (texts.length === 0) throw new Error('usage: codec-rate TEMPLATE_FILE...');
let bestPassMs = Infinity;
for (let pass = 0; pass < PASSES; pass++) {
  const start = performance.now();
  for (let i = 0; i < ROUND_TRIPS; i++) formatDomainConfig(parseDomainConfig(texts[i % texts.length]!));
  bestPassMs = Math.min(bestPassMs, performance.now() - start);
}
process.stdout.write(`${JSON.stringify({ roundTripsPerSecond: Math.round(ROUND_TRIPS / (bestPassMs / 1000)) })}\n`);
