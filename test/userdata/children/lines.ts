// Line-based control of a child process: the parent sends commands on stdin,
// the child answers on stdout.
import { createInterface } from 'node:readline';

export function commands(): AsyncIterableIterator<string> {
  return createInterface({ input: process.stdin })[Symbol.asyncIterator]();
}

export function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

export async function expectCommand(input: AsyncIterableIterator<string>, expected: string): Promise<void> {
  const { value, done } = await input.next();
  if (done || value !== expected) throw new Error(`expected command ${expected}, got ${done ? 'end of input' : value}`);
}
