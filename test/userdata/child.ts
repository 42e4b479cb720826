// Spawns a TypeScript script of ./children in a separate node process (the
// project's sources, transpiled by ./children/ts-hooks.mjs) and talks to it
// line by line.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export interface Child {
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves when the child has printed this exact line. */
  line(expected: string, timeoutMs?: number): Promise<void>;
  /** The next line the child prints. */
  nextLine(timeoutMs?: number): Promise<string>;
  send(command: string): void;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
}

export function spawnChild(script: string, args: string[]): Child {
  const child = spawn(process.execPath, ['--import', join(here, 'children', 'ts-register.mjs'), join(here, 'children', script), ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let buffered = '';
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk; });
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    let newline;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      lines.push(buffered.slice(0, newline));
      buffered = buffered.slice(newline + 1);
    }
    wake?.();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => { wake?.(); resolve({ code, signal }); });
  });
  let gone = false;
  void exited.then(() => { gone = true; });

  const nextLine = async (timeoutMs = 20_000): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    while (lines.length === 0) {
      if (gone) throw new Error(`${script} exited before printing a line: ${stderr}`);
      if (Date.now() > deadline) throw new Error(`${script} printed nothing within ${timeoutMs} ms: ${stderr}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 50);
        wake = () => { clearTimeout(timer); resolve(); };
      });
    }
    return lines.shift()!;
  };
  return {
    process: child,
    pid: child.pid!,
    nextLine,
    async line(expected, timeoutMs) {
      const got = await nextLine(timeoutMs);
      if (got !== expected) throw new Error(`${script}: expected "${expected}", got "${got}" (${stderr})`);
    },
    send(command) { child.stdin!.write(`${command}\n`); },
    exited,
    stderr: () => stderr,
  };
}
