// libxl__device_disk_dev_number: the devid of a virtual disk name
// (xvda = 51712, hda = 768, sda = 2048, d0p1, or a plain number).

/** Drive letters a..z, aa.. decoded like libxl (base 26 with a carry), then an optional partition. */
function matchVirtdisk(vdev: string, prefix: string, maxIndex: number, maxPartition: number): [number, number] | undefined {
  if (!vdev.startsWith(prefix)) return undefined;
  let index = -1;
  let at = prefix.length;
  while (at < vdev.length && vdev[at]! >= 'a' && vdev[at]! <= 'z') {
    index = (index + 1) * 26 + (vdev.charCodeAt(at) - 97);
    if (index > maxIndex) return undefined;
    at++;
  }
  if (index < 0) return undefined;
  const partition = vdev.slice(at);
  if (partition === '') return [index, 0];
  if (!/^[1-9][0-9]{0,8}$/.test(partition) || Number(partition) > maxPartition) return undefined;
  return [index, Number(partition)];
}

export function diskDevid(vdev: string): number | undefined {
  if (vdev.length > 64) return undefined;
  const explicit = /^d(0|[1-9][0-9]{0,6})p(0|[1-9][0-9]{0,2})$/.exec(vdev);
  const xen = explicit && Number(explicit[1]) < 1 << 20 && Number(explicit[2]) < 256
    ? [Number(explicit[1]), Number(explicit[2])] as const
    : matchVirtdisk(vdev, 'xvd', (1 << 20) - 1, 255);
  if (xen) {
    const [disk, partition] = xen;
    return disk <= 15 && partition <= 15 ? (202 << 8) | (disk << 4) | partition : (1 << 28) | (disk << 8) | partition;
  }
  if (/^(0|[1-9][0-9]{0,9})$/.test(vdev) && Number(vdev) <= 0x7fffffff) return Number(vdev);
  const ide = matchVirtdisk(vdev, 'hd', 3, 63);
  if (ide) return ((ide[0] < 2 ? 3 : 22) << 8) | ((ide[0] & 1) << 6) | ide[1];
  const scsi = matchVirtdisk(vdev, 'sd', 15, 15);
  if (scsi) return (8 << 8) | (scsi[0] << 4) | scsi[1];
  return undefined;
}
