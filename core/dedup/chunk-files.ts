/**
 * Cuts one file's bytes into content-defined chunks as they stream in and
 * hands each finished chunk to `store`, holding at most one chunk (the
 * chunker's maximum) in memory whatever the file's size.
 */
import type { Readable } from 'node:stream';
import { FastCdc } from '../chunking/fastcdc.js';

export async function chunkStream(stream: Readable, cdc: FastCdc, store: (chunk: Buffer) => Promise<Buffer>): Promise<{ ids: Buffer[]; bytes: number }> {
  const ids: Buffer[] = [];
  let held: Buffer[] = [];
  let heldBytes = 0;
  let bytes = 0;
  const emit = async (length: number): Promise<void> => {
    const whole = held.length === 1 ? held[0]! : Buffer.concat(held, heldBytes);
    ids.push(await store(whole.subarray(0, length)));
    const rest = whole.subarray(length);
    held = rest.length > 0 ? [rest] : [];
    heldBytes = rest.length;
  };
  for await (const piece of stream as AsyncIterable<Buffer>) {
    bytes += piece.length;
    held.push(piece);
    heldBytes += piece.length;
    for (const length of cdc.push(piece)) await emit(length);
  }
  const last = cdc.finish();
  if (last > 0) await emit(last);
  return { ids, bytes };
}
