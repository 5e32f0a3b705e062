/**
 * Writing a file that had holes so that it has them again. Node cannot ask
 * where a file's data lies (no SEEK_DATA/SEEK_HOLE), so the backup marks a
 * file sparse when it has fewer blocks than bytes, and its restore writes
 * only the blocks that are not all zeros, at their offsets, then sets the
 * size: the skipped blocks stay holes on any file system that has them. A
 * block of zeros that was written data in the original becomes a hole too;
 * the bytes read back are the same.
 */
import type { FileHandle } from 'node:fs/promises';

/** The unit checked for zeros: a file system block on common file systems, and the alignment of the holes made. */
export const HOLE_BLOCK = 4096;
const ZEROS = Buffer.alloc(HOLE_BLOCK);

/** Writes `chunks` (exactly `size` bytes in all) to an empty file, leaving aligned all-zero blocks unwritten. */
export async function writeSparse(handle: FileHandle, chunks: AsyncIterable<Buffer>, size: number, signal?: AbortSignal): Promise<void> {
  let position = 0;
  for await (const chunk of chunks) {
    signal?.throwIfAborted();
    let at = 0;
    while (at < chunk.length) {
      // Up to the next block boundary of the file, so holes stay aligned whatever the chunks' sizes.
      const end = Math.min(chunk.length, at + HOLE_BLOCK - ((position + at) % HOLE_BLOCK));
      let dataEnd = end;
      // Extend the run while its kind (zeros or data) stays the same: one write per run of data.
      const zero = isZero(chunk, at, end);
      while (dataEnd < chunk.length) {
        const next = Math.min(chunk.length, dataEnd + HOLE_BLOCK);
        if (isZero(chunk, dataEnd, next) !== zero) break;
        dataEnd = next;
      }
      if (!zero) await writeAllAt(handle, chunk.subarray(at, dataEnd), position + at);
      at = dataEnd;
    }
    position += chunk.length;
  }
  await handle.truncate(size);
}

function isZero(chunk: Buffer, start: number, end: number): boolean {
  return ZEROS.compare(chunk, start, end, 0, end - start) === 0;
}

async function writeAllAt(handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  for (let written = 0; written < bytes.length;) {
    written += (await handle.write(bytes, written, bytes.length - written, position + written)).bytesWritten;
  }
}
