// What a command leaves outside itself (a daemon it started, a temporary
// folder) is undone however the command ends: by returning, by a closed
// output pipe (main.ts exits at once on EPIPE), or by SIGINT or SIGTERM.
// SIGHUP is left alone: under nohup it is ignored, and must stay so. The undo
// steps are synchronous, since 'exit' runs no more I/O.

import { constants } from 'node:os';

const pending = new Set<() => void>();
const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

function runPending(): void {
  for (const undo of [...pending].reverse()) {
    pending.delete(undo);
    try {
      undo();
    } catch {
      // One step failing must not keep the others from running.
    }
  }
}

/** Ends with the status a shell reports for a process the signal ended (130, 143). */
function onSignal(signal: NodeJS.Signals): void {
  runPending();
  process.exit(128 + constants.signals[signal]);
}

/**
 * Registers `undo` until the returned function is called (on the normal path,
 * after the asynchronous clean-up has done the same work).
 */
export function undoOnExit(undo: () => void): () => void {
  if (pending.size === 0) {
    process.once('exit', runPending);
    for (const name of SIGNALS) process.on(name, onSignal);
  }
  pending.add(undo);
  return () => {
    pending.delete(undo);
    if (pending.size === 0) {
      process.removeListener('exit', runPending);
      for (const name of SIGNALS) process.removeListener(name, onSignal);
    }
  };
}
