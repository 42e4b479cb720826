// HVM vCPUs from QEMU over QMP, against a QMP server on a Unix socket that
// speaks the protocol as QEMU does (greeting, capabilities negotiation,
// events between replies).
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { XenHost } from '../../lib/host.js';
import { XenStore } from '../../lib/xenstore/index.js';
import { useLocalXenstored } from '../harness/xenstored.js';
import { createDomain, tempUserdataDir } from './fixture.js';

type Mode = 'fast' | 'old' | 'silent' | 'garbage' | 'no-index' | 'flood';

const xs = useLocalXenstored();
const userdata = tempUserdataDir();
const socketDir = mkdtempSync(join(tmpdir(), 'xen-domconfig-qmp-'));
const servers: Server[] = [];
const commands: string[] = [];
let store: XenStore;
let host: XenHost;

/** A QMP server for one domain: vCPUs 0, 2 and 5 present. */
function serveQmp(domid: number, mode: Mode): Promise<void> {
  const server = createServer((socket: Socket) => {
    const send = (message: unknown) => socket.write(`${JSON.stringify(message)}\r\n`);
    if (mode === 'garbage') { socket.write('this is not QMP\r\n'); return; }
    if (mode === 'flood') { socket.on('error', () => undefined).write(`{"QMP": "${'q'.repeat(2 * 1024 * 1024)}`); return; } // no end of line
    send({ QMP: { version: { qemu: { major: 7, minor: 2, micro: 0 } }, capabilities: ['oob'] } });
    let buffered = '';
    socket.on('data', (chunk) => {
      buffered += chunk.toString();
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const request = JSON.parse(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
        commands.push(`${domid}:${request.execute}`);
        if (mode === 'silent' && request.execute !== 'qmp_capabilities') continue;
        send({ event: 'RTC_CHANGE', data: { offset: 0 }, timestamp: { seconds: 1, microseconds: 2 } });
        if (request.execute === 'qmp_capabilities') send({ return: {}, id: request.id });
        else if (request.execute === 'query-cpus-fast' && mode === 'old') {
          send({ error: { class: 'CommandNotFound', desc: "The command query-cpus-fast has not been found" }, id: request.id });
        } else if (request.execute === 'query-cpus-fast') {
          send({ return: [0, 2, 5].map((i) => (mode === 'no-index' ? { 'qom-path': `/cpu${i}` } : { 'cpu-index': i, 'qom-path': `/machine/unattached/device[${i}]`, target: 'x86_64' })), id: request.id });
        } else if (request.execute === 'query-cpus') {
          send({ return: [0, 2, 5].map((i) => ({ CPU: i, current: i === 0, halted: false, thread_id: 100 + i })), id: request.id });
        }
      }
    });
  });
  servers.push(server);
  return new Promise((resolve) => server.listen(join(socketDir, `qmp-libxl-${domid}`), resolve));
}

beforeAll(() => {
  store = XenStore.open({ path: xs.current.socketPath });
  host = new XenHost({ xenstore: store, userdataDir: userdata.dir, qmpSocketPath: (domid) => join(socketDir, `qmp-libxl-${domid}`), qmpTimeoutMs: 300 });
});
afterAll(async () => {
  await host.close();
  await store.close();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  rmSync(socketDir, { recursive: true, force: true });
  userdata.remove();
});

async function hvm(domid: number, mode?: Mode) {
  if (mode) await serveQmp(domid, mode);
  await createDomain(store, userdata.dir, { domid, name: `hvm${domid}`, type: 'hvm', maxVcpus: 4, onlineVcpus: 1, maxMemKb: 1048576, targetMemKb: 524288,
    template: (config) => { config.b_info.max_memkb = 1048576n; config.b_info.target_memkb = 524288n; config.b_info.video_memkb = 8192n; } });
}

describe('HVM with qemu-xen', () => {
  it('query-cpus-fast: present vCPUs, cut to max_vcpus; the HVM memory fudge applies', async () => {
    await hvm(30, 'fast');
    const { config } = await host.retrieveDomainConfiguration(30);
    expect(config.b_info.avail_vcpus).toEqual([0, 2]);
    // xenstore target + 1024 (HVM, max > target) + video_memkb
    expect(config.b_info.target_memkb).toBe(524288n + 1024n + 8192n);
    expect(commands.filter((c) => c.startsWith('30:'))).toEqual(['30:qmp_capabilities', '30:query-cpus-fast']);
    // QEMU answers for the vCPUs: cpu/<i>/availability, which retrieve no longer reads here, changes nothing.
    await store.write('/local/domain/30/cpu/1/availability', 'online');
    await store.rm('/local/domain/30/cpu/0');
    expect((await host.retrieveDomainConfiguration(30)).config.b_info.avail_vcpus).toEqual([0, 2]);
  });

  it('falls back to query-cpus when QEMU lacks query-cpus-fast', async () => {
    await hvm(31, 'old');
    expect((await host.retrieveDomainConfiguration(31)).config.b_info.avail_vcpus).toEqual([0, 2]);
    expect(commands.filter((c) => c.startsWith('31:'))).toEqual(['31:qmp_capabilities', '31:query-cpus-fast', '31:query-cpus']);
  });

  it('times out on a QEMU that does not answer', async () => {
    await hvm(32, 'silent');
    await expect(host.retrieveDomainConfiguration(32)).rejects.toMatchObject({ code: 'ETIMEDOUT', domid: 32 });
  });

  it('refuses replies that are not QMP', async () => {
    await hvm(33, 'garbage');
    await expect(host.retrieveDomainConfiguration(33)).rejects.toMatchObject({ code: 'EQMP' });
    await hvm(34, 'no-index');
    await expect(host.retrieveDomainConfiguration(34)).rejects.toMatchObject({ code: 'EQMP', message: /cpu-index/ });
  });

  it('a reply longer than 1 MiB without an end of line is an EQMP error: the read is bounded', async () => {
    await hvm(16, 'flood');
    await expect(host.retrieveDomainConfiguration(16)).rejects.toMatchObject({ code: 'EQMP', message: expect.stringMatching(/longer than 1048576 bytes/) });
  });

  it('a missing QMP socket is an EQMP error', async () => {
    await hvm(35);
    await expect(host.retrieveDomainConfiguration(35)).rejects.toMatchObject({ code: 'EQMP' });
  });

  it('an unreadable or odd dm-version is an error (libxl aborts the process)', async () => {
    await hvm(36, 'fast');
    await store.rm('/libxl/36/dm-version');
    await expect(host.retrieveDomainConfiguration(36)).rejects.toMatchObject({ code: 'EXSVALUE', path: '/libxl/36/dm-version' });
    await store.write('/libxl/36/dm-version', 'qemu_xen\n');
    await expect(host.retrieveDomainConfiguration(36)).rejects.toMatchObject({ code: 'EXSVALUE', path: '/libxl/36/dm-version' });
  });

  it('qemu-xen-traditional vCPUs come from xenstore', async () => {
    await hvm(37);
    await store.write('/libxl/37/dm-version', 'qemu_xen_traditional');
    expect((await host.retrieveDomainConfiguration(37)).config.b_info.avail_vcpus).toEqual([0]);
  });
});
