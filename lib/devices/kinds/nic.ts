// The network interface (libxl_device_nic, array `nics`, identity devid):
// libxl_nic.c's setdefault, update_config and libxl__set_xenstore_nic, the
// vif-bridge hotplug script, the create-time devid/MAC/nictype patch, and xl's
// network-attach/-detach with parse_nic_config's keys.
import { fieldNames, formatMac, parseMac, schema, ZERO_MAC } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import { asString, leadingZeroFree, parseKeyValueSpec, splitOnce, unsignedDecimal, type Fail, type JsonValue, type SpecKey } from '../spec.js';
import { field, reportedInt, row } from '../listing.js';
import type { KeyValues } from '../writes.js';
import { XenstoreValueError } from '../parse.js';
import {
  backendDomidOf, defaultDefbool, defbool, DeviceDefaultsError, DeviceEntryError, devidOf, devidIdentity,
  genericBackend, genericFrontend, integer, isUnset, parseDevid, requiredText, scriptPath, text,
} from './common.js';
import { MAX_DEVID } from '../../xen.js';

const { device_nic } = schema;
const NIC_MTU_DEFAULT = 1500;
/** The colo keys libxl copies when set, in its (the IDL's) order. */
const NIC_COLO_FIELDS = fieldNames(device_nic).filter((field) => field.startsWith('colo_'));
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

/** libxl: Xen's OUI 00:16:3e, then three random bytes with the top bit of the first cleared. */
export function generateMac(random: Uint8Array = crypto.getRandomValues(new Uint8Array(3))): string {
  return formatMac([0x00, 0x16, 0x3e, random[0]! & 0x7f, random[1]!, random[2]!]);
}

function nicMac(entry: Record<string, unknown>): string {
  const mac = requiredText(entry, 'mac').toLowerCase();
  if (!MAC.test(mac)) throw new DeviceEntryError('mac', 'expected xx:xx:xx:xx:xx:xx');
  return mac;
}

function nicMtu(entry: Record<string, unknown>): number {
  const mtu = integer(entry, 'mtu', 0);
  return mtu === 0 ? NIC_MTU_DEFAULT : mtu;
}

// ---------------------------------------------------------------------------
// xl's vif syntax (xl-network-configuration(5)): parse_nic_config's keys

function parseMacSpec(value: string, fail: Fail): string {
  const bytes = value.split(':');
  if (bytes.length !== 6 || !bytes.every((b) => /^[0-9a-fA-F]{1,2}$/.test(b))) {
    fail(`'${value}' is not a MAC address (six hex bytes separated by ':')`);
  }
  return bytes.map((b) => b.toLowerCase().padStart(2, '0')).join(':');
}

const UINT32_MAX = 0xffff_ffff;

/** xlu_vif_parse_rate: RATE[@INTERVAL], e.g. 10Mb/s@20ms; interval defaults to 50 ms. */
function parseRate(value: string, fail: Fail): Map<string, JsonValue> {
  const [ratePart, intervalPart] = splitOnce(value, '@');
  if (ratePart === '') fail('no rate specified');
  const rate = /^([0-9]+)([GMK]?)([Bb])\/s$/.exec(ratePart);
  if (!rate) fail(`invalid rate '${ratePart}' (expected e.g. 10Mb/s or 1GB/s)`);
  const amount = leadingZeroFree(rate[1]!, fail);
  if (amount === 0n || amount > BigInt(UINT32_MAX)) fail(`rate overflow in '${ratePart}'`);
  let bytesPerSec = amount * ({ G: 1_000_000_000n, M: 1_000_000n, K: 1_000n, '': 1n } as const)[rate[2] as 'G' | 'M' | 'K' | ''];
  if (rate[3] === 'b') bytesPerSec /= 8n;

  let intervalUsecs = 50_000n;
  if (intervalPart !== undefined) {
    const interval = /^([0-9]+)([mu]?)s?$/.exec(intervalPart);
    if (!interval) fail(`invalid replenishment interval '${intervalPart}' (expected e.g. 20ms or 500us)`);
    const count = leadingZeroFree(interval[1]!, fail);
    if (count === 0n || count > BigInt(UINT32_MAX)) fail(`replenishment interval overflow in '${intervalPart}'`);
    intervalUsecs = count * ({ '': 1_000_000n, m: 1_000n, u: 1n } as const)[interval[2] as '' | 'm' | 'u'];
    if (intervalUsecs > BigInt(UINT32_MAX)) fail(`replenishment interval overflow in '${intervalPart}'`);
  }
  return new Map<string, JsonValue>([
    ['rate_bytes_per_interval', Number((bytesPerSec * intervalUsecs) / 1_000_000n)],
    ['rate_interval_usecs', Number(intervalUsecs)],
  ]);
}


// parse_nic_config's keys (xl 4.17) → libxl_device_nic fields.
const VIF_KEYS: Record<string, SpecKey> = {
  type: {
    field: 'nictype',
    parse: (value, fail) => {
      if (value === 'vif') return 'vif';
      if (value === 'ioemu') return 'vif_ioemu';
      return fail(`type must be 'vif' or 'ioemu'`);
    },
  },
  mac: { field: 'mac', parse: parseMacSpec },
  bridge: { field: 'bridge', parse: asString },
  netdev: { field: 'gatewaydev', parse: asString }, // deprecated spelling of gatewaydev
  gatewaydev: { field: 'gatewaydev', parse: asString },
  ip: { field: 'ip', parse: asString },
  script: { field: 'script', parse: asString },
  backend: { field: 'backend_domname', parse: asString },
  vifname: { field: 'ifname', parse: asString },
  model: { field: 'model', parse: asString },
  rate: { parse: parseRate },
  forwarddev: { field: 'coloft_forwarddev', parse: asString },
  devid: { field: 'devid', parse: unsignedDecimal(MAX_DEVID) },
  mtu: { field: 'mtu', parse: unsignedDecimal(0x7fff_ffff) },
  ...Object.fromEntries(NIC_COLO_FIELDS.map((field) => [field, { field, parse: asString }])),
  accel: { parse: asString, refused: 'accel is not supported by libxl' },
};

/** Bare words xl accepts among the vif keys. */
const VIF_WORDS: Record<string, readonly [string, JsonValue]> = {
  trusted: ['trusted', 'True'],
  untrusted: ['trusted', 'False'],
};


/**
 * Parses `xl network-attach` arguments (KEY=VALUE words, or one
 * comma-separated vif spec string as in a domain config's vif list).
 * Later keys override earlier ones, as in xl; unknown keys are errors.
 */
export function parseVifSpec(words: string | readonly string[]) {
  const known = `${[...Object.keys(VIF_KEYS).filter((k) => !k.startsWith('colo_') && k !== 'accel'), ...Object.keys(VIF_WORDS)].join(', ')}, colo_*`;
  return parseKeyValueSpec('vif', device_nic, words, { keys: VIF_KEYS, words: VIF_WORDS, known, commas: true });
}

// ---------------------------------------------------------------------------

export const nic: DeviceType = {
  name: 'nic',
  schema: device_nic,
  array: 'nics',
  // libxl__nic_from_xenstore takes the devid from `handle` (0 when absent),
  // which libxl writes equal to the node's name; here the name alone decides.
  ...devidIdentity('nic', 'vif'),
  reportedFrontendKeys: ['event-channel', 'tx-ring-ref', 'rx-ring-ref'],

  // libxl__domain_config_setdefault numbers unset devids after the highest one
  // given; MAC and nictype come from what the builder wrote, else libxl's rules.
  async patchCreated(entries, domain) {
    let next = Math.max(-1, ...entries.map((entry) => entry.devid as number).filter((devid) => devid >= 0)) + 1;
    for (const entry of entries) if (entry.devid === -1) entry.devid = next++;
    for (const entry of entries) {
      const node = `/libxl/${domain.domid}/device/vif/${entry.devid as number}`;
      const [mac, nictype] = await domain.readMany([`${node}/mac`, `${node}/type`]);
      if (entry.mac === ZERO_MAC) entry.mac = (mac !== undefined ? parseMac(mac) : null) ?? generateMac();
      // libxl at creation: PV and PVH nics are vif; an HVM nic left unset is vif_ioemu.
      if (domain.domainType !== 'hvm') entry.nictype = 'vif';
      else if (entry.nictype === 'unknown') entry.nictype = nictype === 'vif' ? 'vif' : 'vif_ioemu';
    }
  },

  add: {
    nextDevid: true,
    async setDefault(entry, context) {
      if (!entry.mtu) entry.mtu = NIC_MTU_DEFAULT;
      if (isUnset(entry.model)) entry.model = 'rtl8139';
      if (isUnset(entry.mac) || entry.mac === ZERO_MAC) entry.mac = generateMac();
      if (isUnset(entry.bridge)) entry.bridge = 'xenbr0';
      if (isUnset(entry.script)) entry.script = `${context.scriptDir}/vif-bridge`;
      if (context.domainType === 'hvm') {
        if (entry.nictype === 'unknown' || isUnset(entry.nictype)) entry.nictype = context.hotplug ? 'vif' : 'vif_ioemu';
      } else {
        if (entry.nictype === 'vif_ioemu') {
          throw new DeviceDefaultsError('an emulated interface (vif_ioemu) needs an HVM guest');
        }
        entry.nictype = 'vif';
      }
      defaultDefbool(entry, 'trusted', true);
    },
    updateConfig(saved, full) {
      saved.devid = full.devid;
      saved.nictype = full.nictype;
      saved.mac = full.mac;
    },
    frontendKind: () => 'vif',
    backendKind: () => 'vif',
    devid: devidOf,
    backendDomid: backendDomidOf,
    backend: (entry, context) => {
      const values: Array<readonly [string, string]> = [...genericBackend(context)];
      const script = text(entry, 'script');
      if (script !== undefined) values.push(['script', scriptPath(script, context)]);
      const optional = (key: string, field: string) => {
        const value = text(entry, field);
        if (value) values.push([key, value]);
      };
      optional('vifname', 'ifname');
      optional('forwarddev', 'coloft_forwarddev');
      for (const field of NIC_COLO_FIELDS) optional(field, field);
      values.push(['mac', nicMac(entry)]);
      optional('ip', 'ip');
      optional('gatewaydev', 'gatewaydev');
      const intervalUsecs = integer(entry, 'rate_interval_usecs', 0);
      if (intervalUsecs > 0) {
        values.push(['rate', `${BigInt(integer(entry, 'rate_bytes_per_interval', 0))},${intervalUsecs}`]);
      }
      const mtu = nicMtu(entry);
      if (mtu !== NIC_MTU_DEFAULT) values.push(['mtu', String(mtu)]);
      optional('vlan', 'vlan');
      values.push(
        ['bridge', requiredText(entry, 'bridge')],
        ['handle', String(devidOf(entry))],
        ['type', requiredText(entry, 'nictype')],
        // Makes the backend wait for the hotplug script before connecting.
        ['hotplug-status', ''],
      );
      return values;
    },
    frontend: (entry): KeyValues => [
      ...genericFrontend(entry),
      ['handle', String(devidOf(entry))],
      ['mac', nicMac(entry)],
      ['trusted', defbool(entry, 'trusted', true) ? '1' : '0'],
    ],
    readOnlyFrontend: (entry) => [['mtu', String(nicMtu(entry))]],
    qemuBackend: () => false,
    // PV nics (nictype vif): "online"/"offline", the interface name, the gateway device.
    script: (backendKind, action, { domid, devid }) => (backendKind !== 'vif' ? undefined : {
      args: [action === 'add' ? 'online' : 'offline', 'type_if=vif'],
      env: { vif: `vif${domid}.${devid}` },
      backendEnv: { netdev: 'gatewaydev' },
    }),
  },

  cli: {
    noun: 'network',
    specName: 'vif',
    attachUsage: '[key=value...]',
    attachDescription: 'hotplug a network interface; keys as in xl-network-configuration(5), e.g. bridge=xenbr0 mac=00:16:3e:..',
    parseSpec: parseVifSpec,
    attached: (entry, devid) => `nic ${devid} (mac ${String(entry.mac)})`,
    detachUsage: '<devid-or-mac>',
    detachDescription: 'unplug a network interface by devid or MAC address',
    forceOption: false,
    detachTarget: (which) => {
      const isMac = which.includes(':');
      const devid = isMac ? undefined : parseDevid(which);
      if (isMac ? parseMac(which) === null : devid === undefined) {
        return { invalid: `'${which}' is neither a devid (0 to ${MAX_DEVID}) nor a MAC address` };
      }
      if (devid !== undefined) return { identity: devid };
      const wanted = which.toLowerCase();
      return { lookup: (entry) => typeof entry.mac === 'string' && entry.mac.toLowerCase() === wanted, what: `nic with MAC ${which}` };
    },
    // xl: libxl_device_nic_remove (waits for the backend, then forces).
    detachForce: false,
  },

  // xl_nic.c main_networklist over libxl_device_nic_getinfo; the MAC is the /libxl node's (libxl__nic_from_xenstore).
  list: {
    noun: 'network',
    description: 'list virtual network interfaces, as xl network-list prints them',
    header: `${field('Idx', -3)} ${field('BE', -2)} ${field('Mac Addr.', -17)} ${field('handle', -6)} ${field('state', -5)} ${field('evt-ch', -6)} ${field('tx-', 5)}/${field('rx-ring-ref', -5)} ${field('BE-path', -30)}\n`,
    async details(device, reader) {
      const path = `${device.libxlPath}/mac`;
      const [mac] = await reader.readMany([path]);
      const parsed = mac === undefined ? ZERO_MAC : parseMac(mac);
      if (parsed === null) throw new XenstoreValueError(path, 'not a MAC address', mac);
      return { details: { mac: parsed } };
    },
    format: (devices) => devices.map((d) => `${field(d.devid, -3)} ${field(d.backendDomid, -2)} ${String(d.details?.mac)}` + row(
      [d.devid, 6], [reportedInt(d, 'state'), 5], [reportedInt(d, 'event-channel'), 6],
      [`${field(reportedInt(d, 'tx-ring-ref'), 5)}/${field(reportedInt(d, 'rx-ring-ref'), -11)}`, 0], [d.backendPath, -30],
    )).join(''),
  },
};
