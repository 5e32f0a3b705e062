/**
 * The hashing thread of core/read/file-hasher.ts: SHA-256s of large file
 * bodies, fed as views of shared segment memory, in message order. Each
 * update is acknowledged (the main thread bounds what it has in flight), each
 * digest answered with the hex value.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { collectYoungGarbage } from '../threads/minor-gc.js';

export type HashRequest = { id: number; data: Uint8Array } | { id: number; digest: true };
export type HashReply = { ack: number } | { id: number; hex: string };

const port = parentPort!;
const hashes = new Map<number, Hash>();
let sinceCollection = 0;

port.on('message', (message: HashRequest) => {
  if ('data' in message) {
    let hash = hashes.get(message.id);
    if (!hash) hashes.set(message.id, (hash = createHash('sha256')));
    hash.update(message.data);
    port.postMessage({ ack: message.data.length } satisfies HashReply);
    // The views keep whole segments alive in this thread until a collection finds them.
    sinceCollection += message.data.length;
    if (sinceCollection >= 16 << 20) {
      sinceCollection = 0;
      collectYoungGarbage();
    }
  } else {
    const hex = (hashes.get(message.id) ?? createHash('sha256')).digest('hex');
    hashes.delete(message.id);
    port.postMessage({ id: message.id, hex } satisfies HashReply);
  }
});
