// xenstore wire messages (xs_wire.h: a 16-byte header of type, req_id,
// tx_id and length, host byte order, then the payload) for the fake servers
// and relays of the wire tests.
import type { Socket } from 'node:net';

export interface Frame { type: number; reqId: number; txId: number; payload: Buffer }

export function header(type: number, reqId: number, txId: number, length: number): Buffer {
  const buffer = Buffer.alloc(16);
  buffer.writeUInt32LE(type, 0);
  buffer.writeUInt32LE(reqId, 4);
  buffer.writeUInt32LE(txId, 8);
  buffer.writeUInt32LE(length, 12);
  return buffer;
}

export function frame(type: number, reqId: number, payload: string | Buffer, txId = 0): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload, 'latin1') : payload;
  return Buffer.concat([header(type, reqId, txId, body.length), body]);
}

/** Calls `onFrame` for each whole message arriving on `socket`. */
export function readFrames(socket: Socket, onFrame: (frame: Frame) => void): void {
  let buffered = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 16 && buffered.length >= 16 + buffered.readUInt32LE(12)) {
      const length = buffered.readUInt32LE(12);
      onFrame({
        type: buffered.readUInt32LE(0), reqId: buffered.readUInt32LE(4), txId: buffered.readUInt32LE(8),
        payload: buffered.subarray(16, 16 + length),
      });
      buffered = buffered.subarray(16 + length);
    }
  });
}
