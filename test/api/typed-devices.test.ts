// The device API typed per kind: a misspelt kind or field, or a value of the
// wrong type, does not compile. npm test type-checks this file, and each
// expected error below fails that check if its line compiles after all.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { LISTED_DEVICE_TYPES } from '../../lib/devices/index.js';
import { XenHost, type AddedDevice, type DeviceDisk, type DeviceInput, type DeviceKindName } from '../../lib/index.js';

// Every name exactly once: a kind missing here, or one that is not a DeviceKindName, does not compile.
const KIND_NAMES = {
  disk: true, nic: true, vtpm: true, usbctrl: true, usbdev: true, pci: true, vdispl: true, vsnd: true,
  vfb: true, vkb: true, p9: true, pvcallsif: true, channel: true,
} satisfies Record<DeviceKindName, true>;

/** Never called: compiled only. */
export function typeChecks(host: XenHost): void {
  // @ts-expect-error a misspelt kind
  void host.addDevice(1, 'dsik', {});
  // @ts-expect-error a field the kind does not have
  void host.addDevice(1, 'disk', { typo_field: 3 });
  // @ts-expect-error a value the field's enum does not have
  void host.addDevice(1, 'disk', { backend: 'floppy' });
  // @ts-expect-error a nic field given to a vtpm
  void host.addDevice(1, 'vtpm', { mac: '00:16:3e:00:00:01' });
  // @ts-expect-error a misspelt kind to remove
  void host.removeDevice(1, 'nik', 0);
  // @ts-expect-error a misspelt kind to list
  void host.listDevices(1, 'vbd');
  // Nested structs may leave fields out as well (the defaults fill them).
  void host.addDevice(1, 'vsnd', { pcms: [{ name: 'p', streams: [{ unique_id: 'u', type: 'c' }] }] });
  const input: DeviceInput<'nic'> = { bridge: 'xenbr0', mac: '00:16:3e:00:00:01' };
  void host.addDevice(1, 'nic', input);
}

describe('the typed device API', () => {
  it('DeviceKindName names exactly the kinds the library knows', () => {
    expect(Object.keys(KIND_NAMES).sort()).toEqual(LISTED_DEVICE_TYPES.map((type) => type.name).sort());
  });

  it("addDevice by a kind's name resolves to that kind's entry type", () => {
    expectTypeOf<ReturnType<typeof XenHost.prototype.addDevice<'disk'>>>().resolves.toEqualTypeOf<AddedDevice<DeviceDisk>>();
  });
});
