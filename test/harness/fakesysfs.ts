// A sysfs tree for usb devices in a temporary folder, with a stand-in for the
// kernel's driver core: each driver's bind and unbind files are FIFOs read
// here, and a name written to one moves the interface's `driver` link and the
// driver's link to it, as the kernel does. Writes are logged in order.
import { constants, mkdirSync, mkdtempSync, openSync, rmSync, symlinkSync, unlinkSync, writeFileSync, readlinkSync, existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';

export interface FakeUsbDevice {
  busid: string;
  bus: number;
  address: number;
  /** bDeviceClass (9 is a hub). */
  deviceClass?: number;
  /** Interface suffix ("1.0") → its driver, or null for none. */
  interfaces: Record<string, string | null>;
}

export interface FakeSysfs {
  readonly root: string;
  /** "bind usbback 1-1:1.0", "unbind usb-storage 1-1:1.0", in the order the library wrote them. */
  readonly log: string[];
  /** The driver an interface is bound to now, or null. */
  driverOf(intf: string): string | null;
  /** Makes writes to a driver's bind or unbind file fail (the file becomes a directory). */
  breakAttribute(driver: string, attribute: 'bind' | 'unbind'): void;
  /** Lets the last writes reach the driver core stand-in. */
  settle(): Promise<void>;
  close(): void;
}

export function createFakeSysfs(devices: FakeUsbDevice[], drivers: string[] = ['usbback', 'usb-storage', 'usbhid']): FakeSysfs {
  const root = mkdtempSync(join(tmpdir(), 'xen-domconfig-sysfs-'));
  const devicesDir = join(root, 'bus/usb/devices');
  const driverDir = (driver: string) => join(root, 'bus/usb/drivers', driver);
  mkdirSync(devicesDir, { recursive: true });
  const log: string[] = [];
  const sockets: Socket[] = [];
  const interfaces = new Set<string>();

  const bindLinks = (intf: string, driver: string) => {
    symlinkSync(driverDir(driver), join(devicesDir, intf, 'driver'));
    symlinkSync(join(devicesDir, intf), join(driverDir(driver), intf));
  };
  const driverOf = (intf: string) => (existsSync(join(devicesDir, intf, 'driver')) ? basename(readlinkSync(join(devicesDir, intf, 'driver'))) : null);

  const serve = (driver: string, attribute: 'bind' | 'unbind') => {
    const path = join(driverDir(driver), attribute);
    execFileSync('mkfifo', [path]);
    // Opened for reading and writing, the FIFO never reports end of file between writers.
    const socket = new Socket({ fd: openSync(path, constants.O_RDWR | constants.O_NONBLOCK), readable: true, writable: false });
    socket.on('data', (chunk: Buffer) => {
      let text = chunk.toString();
      while (text.length > 0) {
        const intf = [...interfaces].find((name) => text.startsWith(name)) ?? text;
        text = text.slice(intf.length);
        log.push(`${attribute} ${driver} ${intf}`);
        if (!interfaces.has(intf)) continue;
        if (attribute === 'bind' && driverOf(intf) === null) bindLinks(intf, driver);
        if (attribute === 'unbind' && driverOf(intf) === driver) {
          unlinkSync(join(devicesDir, intf, 'driver'));
          unlinkSync(join(driverDir(driver), intf));
        }
      }
    });
    sockets.push(socket);
  };

  for (const driver of drivers) {
    mkdirSync(driverDir(driver), { recursive: true });
    serve(driver, 'bind');
    serve(driver, 'unbind');
  }
  for (const device of devices) {
    const dir = join(devicesDir, device.busid);
    mkdirSync(dir);
    writeFileSync(join(dir, 'busnum'), `${device.bus}\n`);
    writeFileSync(join(dir, 'devnum'), `${device.address}\n`);
    writeFileSync(join(dir, 'bDeviceClass'), `${String(device.deviceClass ?? 0).padStart(2, '0')}\n`);
    for (const [suffix, driver] of Object.entries(device.interfaces)) {
      const intf = `${device.busid}:${suffix}`;
      interfaces.add(intf);
      mkdirSync(join(devicesDir, intf));
      if (driver !== null) bindLinks(intf, driver);
    }
  }

  return {
    root,
    log,
    driverOf,
    breakAttribute(driver, attribute) {
      const path = join(driverDir(driver), attribute);
      unlinkSync(path);
      mkdirSync(path);
    },
    async settle() {
      for (let turn = 0; turn < 5; turn++) await new Promise((resolve) => setImmediate(resolve));
    },
    close() {
      for (const socket of sockets) socket.destroy();
      rmSync(root, { recursive: true, force: true });
    },
  };
}
