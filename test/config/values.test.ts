// Disk numbering, MAC, UUID and bitmap helpers.
import { describe, expect, it } from 'vitest';
import {
  bitmapFromIndices, bitmapFromMask, bitmapHas, bitmapRange, bitmapToMask, diskDevNumber, diskDevNumberOf,
  diskVdevName, formatMac, isUuid, macToBytes, parseMac, parseUuid,
} from '../../lib/config/index.js';

describe('diskDevNumber (libxl__device_disk_dev_number)', () => {
  it.each([
    ['xvda', 51712], ['xvdb', 51728], ['xvda1', 51713], ['xvdp', 51952], ['xvdp15', 51967],
    ['xvdq', (1 << 28) | (16 << 8)], ['xvda16', (1 << 28) | 16], ['xvdaa', (1 << 28) | (26 << 8)],
    ['xvdzz15', (1 << 28) | (701 << 8) | 15], ['d0p0', 51712], ['d1p2', 51730], ['d16p0', (1 << 28) | (16 << 8)],
    ['hda', 768], ['hdb', 832], ['hdc', 5632], ['hdd', 5696], ['hda1', 769], ['hdc63', 5695],
    ['sda', 2048], ['sdb', 2064], ['sdp15', 2303],
    ['51712', 51712], ['0xca00', 51712], ['0144', 100], ['0', 0],
  ])('%s → %i', (vdev, devnum) => {
    expect(diskDevNumber(vdev)).toBe(devnum);
  });

  it.each(['', 'xvd', 'xvda0', 'xvda01', 'xvda256', 'hde', 'hda64', 'sdq', 'sda16', 'vda', 'xvdA', '-1', '2147483648', 'd1p', 'd1048576p0'])(
    'refuses %j',
    (vdev) => expect(diskDevNumber(vdev)).toBeNull(),
  );

  it('reports the disk index and partition', () => {
    expect(diskDevNumberOf('xvdab3')).toEqual({ devnum: (1 << 28) | (27 << 8) | 3, disk: 27, partition: 3 });
    expect(diskDevNumberOf('51712')).toEqual({ devnum: 51712, disk: null, partition: null });
  });

  it('names device numbers back, canonically', () => {
    for (const vdev of ['xvda', 'xvdp15', 'xvdq', 'xvdaa', 'xvdzz15', 'hda', 'hdb', 'hdc', 'hdd3', 'sda', 'sdp15']) {
      expect(diskVdevName(diskDevNumber(vdev)!)).toBe(vdev);
    }
    expect(diskVdevName(0)).toBeNull();
    for (let disk = 0; disk < 2000; disk += 7) {
      const name = diskVdevName((1 << 28) | (disk << 8))!;
      expect(diskDevNumberOf(name)!.disk).toBe(disk);
    }
  });
});

describe('MAC and UUID', () => {
  it('parses and formats MACs', () => {
    expect(parseMac('00:16:3E:AA:bb:0c')).toBe('00:16:3e:aa:bb:0c');
    expect(parseMac('00:16:3e:aa:bb')).toBeNull();
    expect(parseMac('00-16-3e-aa-bb-0c')).toBeNull();
    expect(formatMac([0, 0x16, 0x3e, 1, 2, 255])).toBe('00:16:3e:01:02:ff');
    expect(macToBytes('00:16:3e:01:02:ff')).toEqual([0, 0x16, 0x3e, 1, 2, 255]);
    expect(() => formatMac([1, 2, 3])).toThrow(RangeError);
  });

  it('validates UUIDs', () => {
    expect(isUuid('6c15d298-0f76-4d77-993a-d45244fb6993')).toBe(true);
    expect(isUuid('6c15d2980f764d77993ad45244fb6993')).toBe(false);
    expect(parseUuid('6C15D298-0F76-4D77-993A-D45244FB6993')).toBe('6c15d298-0f76-4d77-993a-d45244fb6993');
  });
});

describe('bitmaps as lists of set bits', () => {
  it('normalises, converts and tests', () => {
    expect(bitmapFromIndices([5, 1, 5, 0])).toEqual([0, 1, 5]);
    expect(bitmapRange(2, 4)).toEqual([2, 3, 4]);
    expect(bitmapToMask([0, 3, 64])).toBe((1n << 64n) | 9n);
    expect(bitmapFromMask(0b1011n)).toEqual([0, 1, 3]);
    expect(bitmapHas([0, 3], 3)).toBe(true);
    expect(() => bitmapFromIndices([-1])).toThrow(RangeError);
  });
});
