/** A tar.gz's entries, read with tar-stream: name, type and content. */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { extract } from 'tar-stream';

export async function untar(body: Buffer): Promise<{ name: string; type: string; body: Buffer }[]> {
  const entries: { name: string; type: string; body: Buffer }[] = [];
  const reader = extract();
  Readable.from([body]).pipe(createGunzip()).pipe(reader);
  for await (const entry of reader) {
    const chunks: Buffer[] = [];
    for await (const chunk of entry) chunks.push(chunk as Buffer);
    entries.push({ name: entry.header.name, type: entry.header.type ?? 'file', body: Buffer.concat(chunks) });
  }
  return entries;
}
