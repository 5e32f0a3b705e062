/**
 * The thread that hashes large restored files (core/read/file-hasher.ts):
 * slices arrive as views of the restore's shared segment buffers, in order
 * per file; each is acknowledged once hashed, in the order it came, so its
 * buffer can be reused. Only node:crypto is loaded here: the thread costs
 * little memory.
 */
import { createHash, type Hash } from 'node:crypto';
import { parentPort } from 'node:worker_threads';

export type HashRequest = { op: 'update'; file: number; bytes: Uint8Array } | { op: 'digest'; file: number };
export type HashReply = { op: 'hashed' } | { op: 'digest'; file: number; hex: string };

const hashes = new Map<number, Hash>();

parentPort!.on('message', (request: HashRequest) => {
  if (request.op === 'update') {
    let hash = hashes.get(request.file);
    if (!hash) hashes.set(request.file, (hash = createHash('sha256')));
    hash.update(request.bytes);
    parentPort!.postMessage({ op: 'hashed' } satisfies HashReply);
    return;
  }
  const hash = hashes.get(request.file) ?? createHash('sha256');
  hashes.delete(request.file);
  parentPort!.postMessage({ op: 'digest', file: request.file, hex: hash.digest('hex') } satisfies HashReply);
});
