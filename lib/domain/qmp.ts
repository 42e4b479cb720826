// What libxl asks QEMU (qemu-xen) over QMP: connect to the socket, read the
// greeting, qmp_capabilities, then the vCPU query for HVM guests
// (query-cpus-fast, falling back to query-cpus when QEMU predates it:
// CommandNotFound) or one command of a hotplug (device_add, device_del).
import { createConnection, type Socket } from 'node:net';
import { AbortError } from '../xenstore/errors.js';
import { DomainError } from './errors.js';
import { XEN_RUN_DIR } from '../xen.js';

/** libxl's LIBXL_QMP_CMD_TIMEOUT. */
export const QMP_TIMEOUT_MS = 10_000;
/** Longest QMP message accepted; vCPU lists of the largest guests stay far below. */
const MAX_MESSAGE_BYTES = 1 << 20;

export function defaultQmpSocketPath(domid: number): string {
  return `${XEN_RUN_DIR}/qmp-libxl-${domid}`;
}

export interface QmpQueryOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
}

type QmpMessage = Record<string, unknown>;

/** The indexes of the vCPUs QEMU reports present, sorted. */
export async function queryQemuCpus(socketPath: string, domid: number, options: QmpQueryOptions = {}): Promise<number[]> {
  const session = new QmpSession(socketPath, domid, options.timeoutMs ?? QMP_TIMEOUT_MS, options.signal);
  try {
    const greeting = await session.next();
    if (typeof greeting.QMP !== 'object' || greeting.QMP === null) throw session.fail('no QMP greeting');
    await session.execute('qmp_capabilities');
    const fast = await session.execute('query-cpus-fast', { allowCommandNotFound: true });
    if (fast !== undefined) return cpuIndexes(fast, 'cpu-index', session);
    return cpuIndexes(await session.execute('query-cpus'), 'CPU', session);
  } finally {
    session.close();
  }
}

/** One command with its arguments (libxl__ev_qmp_send), after the greeting and capabilities negotiation; resolves to its "return". */
export async function executeQmp(socketPath: string, domid: number, command: string, args: Record<string, unknown>, options: QmpQueryOptions = {}): Promise<unknown> {
  const session = new QmpSession(socketPath, domid, options.timeoutMs ?? QMP_TIMEOUT_MS, options.signal);
  try {
    const greeting = await session.next();
    if (typeof greeting.QMP !== 'object' || greeting.QMP === null) throw session.fail('no QMP greeting');
    await session.execute('qmp_capabilities');
    return await session.execute(command, { arguments: args });
  } finally {
    session.close();
  }
}

function cpuIndexes(result: unknown, key: string, session: QmpSession): number[] {
  if (!Array.isArray(result)) throw session.fail(`reply is not a list of vCPUs`);
  const indexes = new Set<number>();
  for (const cpu of result) {
    const index = (cpu as QmpMessage | null)?.[key];
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0) throw session.fail(`vCPU entry without an integer "${key}"`);
    indexes.add(index);
  }
  return [...indexes].sort((a, b) => a - b);
}

class QmpSession {
  readonly #socket: Socket;
  readonly #messages: QmpMessage[] = [];
  #buffered = '';
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  #nextId = 1;
  readonly #timer: NodeJS.Timeout;
  readonly #onAbort: () => void;

  constructor(readonly socketPath: string, readonly domid: number, timeoutMs: number, readonly signal: AbortSignal | undefined) {
    this.#socket = createConnection(socketPath);
    this.#socket.setEncoding('utf8');
    this.#socket.on('data', (chunk: string) => this.#receive(chunk));
    this.#socket.on('error', (error) => this.#stop(new DomainError('EQMP', `domain ${domid}: QMP socket ${socketPath}: ${error.message}`, { domid, path: socketPath, cause: error })));
    this.#socket.on('close', () => this.#stop(this.fail('QEMU closed the connection')));
    this.#timer = setTimeout(() => this.#stop(new DomainError('ETIMEDOUT', `domain ${domid}: QEMU did not answer on ${socketPath} within ${timeoutMs} ms`, { domid, path: socketPath })), timeoutMs);
    this.#onAbort = () => this.#stop(new AbortError(signal));
    if (signal?.aborted) this.#onAbort();
    signal?.addEventListener('abort', this.#onAbort, { once: true });
  }

  fail(reason: string): DomainError {
    return new DomainError('EQMP', `domain ${this.domid}: QMP ${this.socketPath}: ${reason}`, { domid: this.domid, path: this.socketPath });
  }

  /** Sends a command; resolves to its "return", or undefined for CommandNotFound when allowed. */
  async execute(command: string, options: { allowCommandNotFound?: boolean; arguments?: Record<string, unknown> } = {}): Promise<unknown> {
    const id = this.#nextId++;
    this.#socket.write(`${JSON.stringify({ execute: command, ...(options.arguments ? { arguments: options.arguments } : {}), id })}\r\n`);
    for (;;) {
      const message = await this.next();
      if ('event' in message || message.id !== id) continue; // asynchronous events and stale replies
      if ('return' in message) return message.return;
      const error = message.error as { class?: unknown; desc?: unknown } | undefined;
      if (error?.class === 'CommandNotFound' && options.allowCommandNotFound) return undefined;
      throw this.fail(`${command} failed: ${typeof error?.desc === 'string' ? error.desc.slice(0, 200) : 'unexpected reply'}`);
    }
  }

  async next(): Promise<QmpMessage> {
    for (;;) {
      const message = this.#messages.shift();
      if (message) return message;
      if (this.#failure) throw this.#failure;
      await new Promise<void>((resolve) => { this.#wake = resolve; });
    }
  }

  close(): void {
    clearTimeout(this.#timer);
    this.signal?.removeEventListener('abort', this.#onAbort);
    this.#socket.destroy();
  }

  #receive(chunk: string): void {
    this.#buffered += chunk;
    let newline: number;
    while ((newline = this.#buffered.indexOf('\n')) >= 0) {
      const line = this.#buffered.slice(0, newline).trim();
      this.#buffered = this.#buffered.slice(newline + 1);
      if (line === '') continue;
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        this.#stop(this.fail('reply is not JSON'));
        return;
      }
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
        this.#stop(this.fail('reply is not a JSON object'));
        return;
      }
      this.#messages.push(parsed as QmpMessage);
    }
    if (this.#buffered.length > MAX_MESSAGE_BYTES) this.#stop(this.fail(`reply longer than ${MAX_MESSAGE_BYTES} bytes`));
    this.#notify();
  }

  #stop(error: Error): void {
    this.#failure ??= error;
    this.#socket.destroy();
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}
