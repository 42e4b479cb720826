// A fake dom0 blkback/netback for hotplug tests on the local xenstored: it
// watches /local/domain/0/backend and answers the two handshakes libxl
// waits for, the way the kernel backend and its hotplug script do:
//   state 1 (Initialising) → hotplug-status = "connected", state 2 (InitWait)
//   state 5 (Closing)      → state 6 (Closed)
// Stalling (never answering) a phase, or failing the hotplug script, tests
// the timeouts and error paths.
import { XenStore } from '../../lib/xenstore/index.js';

export interface FakeBackendOptions {
  /** Never answer Initialising for backend dirs this matches (all when true). */
  stallInit?: boolean | ((backendPath: string) => boolean);
  /** Never answer Closing for backend dirs this matches (all when true). */
  stallClose?: boolean | ((backendPath: string) => boolean);
  /** Play a failing hotplug script: InitWait, then hotplug-status "error" and this hotplug-error. */
  failHotplug?: string;
  /**
   * Answer a device's first Closing with InitWait written over it, as a
   * backend whose own move to InitWait lands late does; later Closings close.
   */
  lateInitWait?: boolean;
}

export interface FakeBackend {
  /** Handshakes answered so far: "<backend path> 1→2", "<backend path> 5→6" or a late InitWait. */
  readonly answered: readonly string[];
  /** Errors met while answering (each one skipped that event). */
  readonly errors: readonly unknown[];
  /** Changes the behaviour for later events. */
  configure(options: FakeBackendOptions): void;
  stop(): Promise<void>;
}

const ROOT = '/local/domain/0/backend';
const STATE_PATH = /^\/local\/domain\/0\/backend\/[a-z0-9_]+\/[0-9]+\/[0-9]+\/state$/;

function matches(option: boolean | ((path: string) => boolean) | undefined, path: string): boolean {
  return typeof option === 'function' ? option(path) : option === true;
}

/** Starts answering on its own xenstored connection; stop() ends it. */
export async function startFakeBackend(socketPath: string, initial: FakeBackendOptions = {}): Promise<FakeBackend> {
  const xenstore = XenStore.open({ path: socketPath, poolSize: 2 });
  const answered: string[] = [];
  const errors: unknown[] = [];
  let options = initial;
  const lateWritten = new Set<string>();

  const answer = async (statePath: string): Promise<void> => {
    const device = statePath.slice(0, -'/state'.length);
    const state = await xenstore.read(statePath);
    if (state === '1' && !matches(options.stallInit, device)) {
      if (options.failHotplug !== undefined) {
        await xenstore.write(`${device}/hotplug-error`, options.failHotplug);
        await xenstore.write(`${device}/hotplug-status`, 'error');
        await xenstore.write(statePath, '2');
        return;
      }
      // Only a device that still exists: the write must not recreate a removed dir.
      const moved = await xenstore.transaction(async (tx) => {
        if (await tx.read(statePath) !== '1') return false;
        await tx.write(`${device}/hotplug-status`, 'connected');
        await tx.write(statePath, '2');
        return true;
      });
      if (moved) answered.push(`${device} 1→2`);
    } else if (state === '5' && options.lateInitWait && !lateWritten.has(device)) {
      lateWritten.add(device);
      await xenstore.write(statePath, '2');
      answered.push(`${device} 5→2 (late InitWait)`);
    } else if (state === '5' && !matches(options.stallClose, device)) {
      const moved = await xenstore.transaction(async (tx) => {
        if (await tx.read(statePath) !== '5') return false;
        await tx.write(statePath, '6');
        return true;
      });
      if (moved) answered.push(`${device} 5→6`);
    }
  };

  const events = xenstore.watch(ROOT);
  const loop = (async () => {
    for await (const event of events) {
      try {
        // The first event (and one for a removed subtree) names no state node: scan.
        const paths = STATE_PATH.test(event.path) ? [event.path] : await statePathsUnder(xenstore, event.path);
        for (const path of paths) await answer(path);
      } catch (error) {
        errors.push(error);
      }
    }
  })();

  return {
    answered,
    errors,
    configure(next) {
      options = next;
    },
    async stop() {
      await events.return?.();
      await loop;
      await xenstore.close();
    },
  };
}

async function statePathsUnder(xenstore: XenStore, path: string): Promise<string[]> {
  const tree = await xenstore.readTree(path);
  const found: string[] = [];
  const walk = (node: NonNullable<typeof tree>, at: string): void => {
    for (const child of node.children) {
      const childPath = `${at}/${child.name}`;
      if (STATE_PATH.test(childPath)) found.push(childPath);
      else walk(child, childPath);
    }
  };
  if (tree) walk(tree, path);
  return found;
}
