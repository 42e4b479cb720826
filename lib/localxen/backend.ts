// A stand-in for dom0's blkback/netback and their hotplug scripts, for the
// demo on a machine without Xen: it watches dom0's backend tree and answers
// the two handshakes libxl's hotplug and unplug wait for.
//   Initialising → hotplug-status = "connected", InitWait
//   Closing      → Closed
// No guest ever connects; it only moves backend states.
import type { XenStore } from '../xenstore/index.js';
import { XenbusState } from '../xen.js';

export interface LocalBackend {
  /** Devices answered so far (backend paths), in order. */
  readonly moved: readonly string[];
  stop(): Promise<void>;
}

const STATE_PATH = /^\/local\/domain\/0\/backend\/[a-z0-9_-]+\/[0-9]+\/[0-9]+\/state$/;

export async function startLocalBackend(xenstore: XenStore): Promise<LocalBackend> {
  const root = '/local/domain/0/backend';
  const moved: string[] = [];

  const answer = async (statePath: string): Promise<void> => {
    const device = statePath.slice(0, -'/state'.length);
    const state = await xenstore.read(statePath);
    if (state === String(XenbusState.Initialising)) {
      await xenstore.write(`${device}/hotplug-status`, 'connected');
      await xenstore.write(statePath, String(XenbusState.InitWait));
      moved.push(device);
    } else if (state === String(XenbusState.Closing)) {
      await xenstore.write(statePath, String(XenbusState.Closed));
      moved.push(device);
    }
  };

  // The watch fires once at registration; every later event names the node that changed.
  const events = xenstore.watch(root);
  const loop = (async () => {
    for await (const event of events) {
      const paths = STATE_PATH.test(event.path) ? [event.path] : await statePathsUnder(xenstore, event.path);
      for (const path of paths) {
        try {
          await answer(path);
        } catch {
          // The device went away between the event and the read: nothing to answer.
        }
      }
    }
  })();

  return {
    moved,
    async stop() {
      await events.return?.();
      await loop;
    },
  };
}

/** Every <kind>/<domid>/<devid>/state below `path` (used for the first event, and for whole new subtrees). */
async function statePathsUnder(xenstore: XenStore, path: string): Promise<string[]> {
  if (!path.startsWith('/local/domain/0/backend')) return [];
  const tree = await xenstore.readTree(path);
  if (!tree) return [];
  const found: string[] = [];
  const walk = (node: typeof tree, at: string): void => {
    if (node.name === 'state' && STATE_PATH.test(at)) found.push(at);
    for (const child of node.children) walk(child, `${at}/${child.name}`);
  };
  walk(tree, path);
  return found;
}
