// One transfer through the S3 adapter, in its own process so its peak RSS is its own:
//   node bench/s3-transfer.js <upload|download|idle> <options JSON> <bytes>
// `idle` loads everything and transfers nothing: the runtime's own share of the RSS.
// Prints {"seconds":…,"bytes":…,"maxRssKiB":…,"sha256":…}.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { S3Adapter } from '../dist/adapters/s3/index.js';

const [operation, optionsJson, sizeText] = process.argv.slice(2);
const adapter = new S3Adapter(JSON.parse(optionsJson), 'bench');
const size = Number(sizeText);
const hash = createHash('sha256');

/** `size` bytes made on the fly in 1 MiB chunks (every chunk differs), never held whole. */
function* generated() {
  const block = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < block.length; i++) block[i] = (i * 2654435761) >>> 24;
  for (let at = 0, n = 0; at < size; at += block.length, n++) {
    const chunk = Buffer.from(block.subarray(0, Math.min(block.length, size - at)));
    chunk.writeUInt32BE(n, 0);
    hash.update(chunk);
    yield chunk;
  }
}

const started = process.hrtime.bigint();
let bytes = 0;
if (operation === 'upload') {
  bytes = (await adapter.put('bench/object', Readable.from(generated(), { objectMode: false }))).size;
} else if (operation === 'download') {
  for await (const chunk of await adapter.get('bench/object')) {
    hash.update(chunk);
    bytes += chunk.length;
  }
}
const seconds = Number(process.hrtime.bigint() - started) / 1e9;
await adapter.close();
console.log(JSON.stringify({ seconds, bytes, maxRssKiB: process.resourceUsage().maxRSS, sha256: hash.digest('hex') }));
