// The virtual framebuffer (libxl_device_vfb, array `vfbs`, identity devid):
// libxl_console.c's setdefault and libxl__set_xenstore_vfb. Library only: xl
// has no vfb-attach. As for a vkb, libxl adds it without touching the
// template (libxl__device_add) and without waiting for its backend (QEMU);
// here the entry is kept with its devid (see entriesOptional).
import { schema } from '../../config/index.js';
import type { DeviceEntry, DeviceType } from '../kind.js';
import type { KeyValues } from '../writes.js';
import { backendDomidOf, defbool, devidIdentity, devidOf, genericBackend, genericFrontend, isUnset } from './common.js';

type Display = Record<string, unknown>;

function part(entry: DeviceEntry, field: 'vnc' | 'sdl'): Display {
  const value = entry[field];
  return typeof value === 'object' && value !== null ? (value as Display) : {};
}

/** libxl__set_xenstore_vfb; unset strings are not written. */
function vfbBackend(entry: DeviceEntry): KeyValues {
  const vnc = part(entry, 'vnc');
  const sdl = part(entry, 'sdl');
  const values: Array<readonly [string, string]> = [['vnc', defbool(vnc, 'enable', true) ? '1' : '0']];
  if (typeof vnc.listen === 'string') values.push(['vnclisten', vnc.listen]);
  if (typeof vnc.passwd === 'string') values.push(['vncpasswd', vnc.passwd]);
  values.push(
    ['vncdisplay', String(typeof vnc.display === 'number' ? vnc.display : 0)],
    ['vncunused', defbool(vnc, 'findunused', defbool(vnc, 'enable', true)) ? '1' : '0'],
    ['sdl', defbool(sdl, 'enable', false) ? '1' : '0'],
    ['opengl', defbool(sdl, 'opengl', false) ? '1' : '0'],
  );
  if (typeof sdl.xauthority === 'string') values.push(['xauthority', sdl.xauthority]);
  if (typeof sdl.display === 'string') values.push(['display', sdl.display]);
  return values;
}

export const vfb: DeviceType = {
  name: 'vfb',
  schema: schema.device_vfb,
  array: 'vfbs',
  ...devidIdentity('vfb', 'vfb'),
  entriesOptional: true,
  reportedFrontendKeys: ['event-channel', 'page-ref'],

  add: {
    nextDevid: true,
    // libxl__device_add: no wait for the backend, no hotplug script.
    waitsForBackend: false,
    async setDefault(entry) {
      const vnc = part(entry, 'vnc');
      if (isUnset(vnc.enable) || vnc.enable === 'default') vnc.enable = true;
      if (vnc.enable === true && isUnset(vnc.listen)) vnc.listen = '127.0.0.1';
      if (isUnset(vnc.findunused) || vnc.findunused === 'default') vnc.findunused = vnc.enable === true;
      const sdl = part(entry, 'sdl');
      if (isUnset(sdl.enable) || sdl.enable === 'default') sdl.enable = false;
      if (isUnset(sdl.opengl) || sdl.opengl === 'default') sdl.opengl = false;
      entry.vnc = vnc;
      entry.sdl = sdl;
    },
    updateConfig(saved, full) {
      saved.devid = full.devid;
    },
    frontendKind: () => 'vfb',
    backendKind: () => 'vfb',
    devid: devidOf,
    backendDomid: backendDomidOf,
    backend: (entry, context) => [...genericBackend(context), ...vfbBackend(entry)],
    frontend: (entry) => genericFrontend(entry),
    readOnlyFrontend: () => [],
    qemuBackend: () => true,
  },
};
