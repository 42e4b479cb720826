// A one-line progress counter on stderr for work over many domains. Drawn only
// when stderr is a terminal (never in pipes, logs or tests), at most every
// REDRAW_MS, and erased when done so it never mixes with the output.

const REDRAW_MS = 100;
/** Below this many items the work is too quick for a counter to help. */
const MIN_ITEMS = 50;

export interface Progress {
  tick(): void;
  done(): void;
}

const SILENT: Progress = { tick() {}, done() {} };

export function startProgress(label: string, total: number, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY || total < MIN_ITEMS) return SILENT;
  let count = 0;
  let lastDraw = 0;
  const draw = (): void => {
    stream.write(`\r${label} ${count}/${total}`);
    lastDraw = Date.now();
  };
  draw();
  return {
    tick() {
      count += 1;
      if (Date.now() - lastDraw >= REDRAW_MS) draw();
    },
    done() {
      stream.write('\r\x1b[2K');
    },
  };
}
