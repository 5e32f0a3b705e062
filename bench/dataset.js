// A reproducible mixed data set: half incompressible bytes, half text and logs, many small files.
import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Deterministic pseudo-random bytes (SHA-256 in counter mode), so runs are comparable. */
function* randomChunks(seed, total, chunk = 1 << 20) {
  let counter = 0;
  for (let done = 0; done < total; done += chunk) {
    const size = Math.min(chunk, total - done);
    const out = Buffer.allocUnsafe(size);
    for (let o = 0; o < size; o += 32) {
      createHash('sha256').update(`${seed}:${counter++}`).digest().copy(out, o, 0, Math.min(32, size - o));
    }
    yield out;
  }
}

function logText(bytes, seed) {
  const lines = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const line = `2026-11-${String((i % 28) + 1).padStart(2, '0')}T${String(i % 24).padStart(2, '0')}:00:00Z INFO worker-${(i * 7 + seed) % 13} processed request id=${(i * 2654435761) % 1e9} status=${i % 17 === 0 ? 500 : 200} latency_ms=${(i * 37) % 900}\n`;
    lines.push(line);
    size += line.length;
  }
  return lines.join('').slice(0, bytes);
}

export async function generateDataset(root, totalBytes) {
  const half = Math.floor(totalBytes / 2);
  await mkdir(join(root, 'binary'), { recursive: true });
  await mkdir(join(root, 'logs'), { recursive: true });
  await mkdir(join(root, 'small'), { recursive: true });
  const bigFiles = 4;
  for (let f = 0; f < bigFiles; f++) {
    const chunks = [...randomChunks(`bin${f}`, Math.floor(half / bigFiles))];
    await writeFile(join(root, 'binary', `blob-${f}.bin`), Buffer.concat(chunks));
  }
  const smallCount = 2000;
  const smallBytes = Math.floor(totalBytes * 0.05);
  for (let i = 0; i < smallCount; i++) {
    const dir = join(root, 'small', `d${i % 40}`);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, `note-${i}.txt`), logText(Math.floor(smallBytes / smallCount), i));
  }
  const logBytes = totalBytes - half - smallBytes;
  const logFiles = 8;
  for (let f = 0; f < logFiles; f++) await writeFile(join(root, 'logs', `app-${f}.log`), logText(Math.floor(logBytes / logFiles), f));
}
