// The progress counter: drawn on a terminal only, for enough items, throttled,
// and erased at the end so that it never mixes with the output.
import { describe, expect, it, vi } from 'vitest';
import { startProgress } from '../../lib/cli/progress.js';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, stream: { isTTY, write: (text: string) => writes.push(text) } as unknown as NodeJS.WriteStream };
}

describe('startProgress', () => {
  it('draws label and count on a terminal, at most every 100 ms, and erases the line when done', () => {
    vi.useFakeTimers();
    try {
      const { writes, stream: tty } = stream(true);
      const progress = startProgress('listing', 200, tty);
      expect(writes).toEqual(['\rlisting 0/200']);
      for (let i = 0; i < 50; i++) progress.tick(); // within 100 ms: not redrawn
      expect(writes).toHaveLength(1);
      vi.advanceTimersByTime(100);
      progress.tick();
      expect(writes.at(-1)).toBe('\rlisting 51/200');
      progress.done();
      expect(writes.at(-1)).toBe('\r\x1b[2K');
    } finally {
      vi.useRealTimers();
    }
  });

  it('stays silent in pipes and files, and for a handful of items', () => {
    for (const [isTTY, total] of [[false, 1000], [true, 49]] as const) {
      const { writes, stream: out } = stream(isTTY);
      const progress = startProgress('listing', total, out);
      progress.tick();
      progress.done();
      expect(writes).toEqual([]);
    }
  });
});
