// The channel (libxl_device_channel, array `channels`): a console with a
// name, under /libxl/<domid>/device/console/<devid> (devid 1 and up; 0 is the
// primary console). Listed only: libxl's device table has no channel, so
// retrieve keeps the template's channels as stored, and xl has no verb to
// attach one. xl channel-list: libxl_console.c's libxl__append_channel_list,
// libxl__device_channel_from_xenstore and libxl_device_channel_getinfo.
import { schema } from '../../config/index.js';
import type { DeviceType } from '../kind.js';
import { field, reportedInt, type ListedDevice } from '../listing.js';
import { XenstoreValueError } from '../parse.js';
import { checkedBackend, integerKey, listLibxlNodes } from './common.js';

const CONNECTIONS = ['pty', 'socket'] as const;

/** main_channellist's line; Idx is the channel's place among the named consoles, as libxl numbers them. */
function channelLine(device: ListedDevice, index: number): string {
  const connection = String(device.details?.connection);
  const pty = connection === 'pty' ? `${field(device.guestReported.values.tty ?? '/NO-SUCH-PATH', -30)} ` : '';
  return `${field(index, -3)} ${field(device.backendDomid, -2)} ${field(reportedInt(device, 'state'), -5)} `
    + `${field(reportedInt(device, 'port'), -6)} ${field(reportedInt(device, 'ring-ref'), -8)} ${field(connection, -10)} ${pty}\n`;
}

export const channel: DeviceType = {
  name: 'channel',
  schema: schema.device_channel,
  array: 'channels',
  identity: 'devid',
  keyOf: (entry) => integerKey(entry.devid),
  xenstoreKinds: ['console'],
  // Listed only (retrieve takes channels from the template): each node's backend and name are read.
  nodeKeys: () => () => ['backend', 'name'],
  // Consoles without a name are not channels (the primary console among them).
  listLive(view) {
    const named = new Set<string>();
    const list = listLibxlNodes(view, 'channel', ['console'], ({ path, devid, values }) => {
      if (values.has('name')) {
        named.add(path);
        checkedBackend(path, values, view.domid);
      }
      return { kind: 'channel', key: String(devid), path };
    });
    return { devices: list.devices.filter((device) => named.has(device.path)), problems: list.problems };
  },
  // The evtchn is `port` for consoles; tty is read-only to the guest but its frontend dir is not.
  reportedFrontendKeys: ['port', 'ring-ref', 'tty'],

  list: {
    noun: 'channel',
    description: 'list channels (named consoles), as xl channel-list prints them',
    header: `${field('Idx', -3)} ${field('BE', -2)} ${field('state', -5)} ${field('evt-ch', -6)} ${field('ring-ref', 8)} ${field('connection', -10)} ${field('', -30)}\n`,
    async details(device, reader) {
      const keys = ['name', 'connection', 'path'].map((key) => `${device.libxlPath}/${key}`);
      const [name, connection, path] = await reader.readMany(keys);
      if (!CONNECTIONS.includes(connection as (typeof CONNECTIONS)[number])) throw new XenstoreValueError(keys[1]!, 'not pty or socket', connection);
      return { details: { name, connection, ...(connection === 'socket' && path !== undefined ? { path } : {}) } };
    },
    format: (devices) => devices.map(channelLine).join(''),
  },
};
