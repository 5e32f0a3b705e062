/**
 * Reading a snapshot's tar stream: ustar headers, and PAX extended headers
 * carrying `path` and `linkpath`, which is everything the backup writes
 * (core/pipeline/tar-header.ts, or tar-stream's pack before it). Bodies are
 * handed out as slices of the decompressed segments, with no stream and no
 * copy per entry; only a header or a small body that straddles two segments
 * is copied together.
 */
import { FailsafeError } from '../errors.js';
import { decodeName } from '../fs/name-bytes.js';

const BLOCK = 512;
const PAX = 0x78; // 'x'
const PAX_GLOBAL = 0x67; // 'g'
const TYPES: Record<number, string> = { 0: 'file', 0x30: 'file', 0x32: 'symlink', 0x35: 'directory' };
/** What the other flags mean, for the error that refuses them: a reader must never take one for an empty file. */
const OTHER_TYPES: Record<number, string> = {
  0x31: 'hard link',
  0x33: 'character device',
  0x34: 'block device',
  0x36: 'FIFO',
  0x37: 'contiguous file',
};

/** The entry types Failsafe writes; anything else in a stream is an integrity error. */
export const KNOWN_TYPES: ReadonlySet<string> = new Set(Object.values(TYPES));

export interface TarHeader {
  name: string;
  /** `file`, `symlink`, `directory`, or what anything else is (`hard link`, `FIFO`, `type 65`, …). */
  type: string;
  size: number;
  linkname?: string;
}

/** Pulls byte chunks from an async source and cuts them into headers and bodies. */
export class TarReader {
  readonly #source: AsyncIterator<Buffer>;
  readonly #what: string;
  readonly #retire: ((chunk: Buffer) => void) | undefined;
  #chunk: Buffer = Buffer.alloc(0);
  #offset = 0;
  #ended = false;

  /**
   * `retire` is told of each chunk the reader is done with, when it moves to
   * the next one (and of the last at close). By then every slice of it was
   * copied, read at once, or handed out to a consumer that has asked for the
   * next (see `slice`); a source that recycles its chunks relies on this.
   */
  constructor(source: AsyncIterable<Buffer>, what: string, retire?: (chunk: Buffer) => void) {
    this.#source = source[Symbol.asyncIterator]();
    this.#what = what;
    this.#retire = retire;
  }

  /** The next entry's header, or undefined at the end of the stream. */
  async next(): Promise<TarHeader | undefined> {
    let pax: Map<string, string> | undefined;
    for (;;) {
      const block = await this.#take(BLOCK, true);
      if (!block) {
        if (pax) throw this.#corrupt('the archive ends after an extended header');
        return undefined;
      }
      const sum = checksum(block);
      if (sum === 8 * 32) continue; // a zero block: the end-of-archive marker (tar readers skip them)
      if (sum !== octal(block, 148, 8)) throw this.#corrupt('a tar header has a wrong checksum');
      const flag = block[156]!;
      const size = size12(block);
      if (flag === PAX || flag === PAX_GLOBAL) {
        const records = await this.#take(size, false);
        await this.skip(padding(size));
        if (flag === PAX) pax = parsePax(records!);
        continue;
      }
      let name = text(block, 0, 100);
      if (block[345] !== 0 && isUstar(block)) name = `${text(block, 345, 155)}/${name}`;
      const header: TarHeader = { name: pax?.get('path') ?? name, type: TYPES[flag] ?? OTHER_TYPES[flag] ?? `type ${flag}`, size };
      const linkname = pax?.get('linkpath') ?? (block[157] === 0 ? undefined : text(block, 157, 100));
      if (linkname !== undefined) header.linkname = linkname;
      return header;
    }
  }

  /** The next `size` bytes, whole: a slice when they lie in one chunk, else a copy. */
  async read(size: number): Promise<Buffer> {
    return (await this.#take(size, false))!;
  }

  /**
   * Up to `max` of the next bytes: a slice of the current chunk, waiting for
   * the next one when it is used up. The slice stays valid until the next
   * call that moves past its chunk: a caller that keeps bytes longer copies them.
   */
  async slice(max: number): Promise<Buffer> {
    if (this.#offset === this.#chunk.length && !(await this.#pull())) throw this.#truncated();
    const end = Math.min(this.#chunk.length, this.#offset + max);
    const slice = this.#chunk.subarray(this.#offset, end);
    this.#offset = end;
    return slice;
  }

  async skip(size: number): Promise<void> {
    for (let left = size; left > 0;) left -= (await this.slice(left)).length;
  }

  /** Bytes already here without waiting for the source. */
  get buffered(): number {
    return this.#chunk.length - this.#offset;
  }

  async close(): Promise<void> {
    this.#retireChunk();
    await this.#source.return?.();
  }

  async #pull(): Promise<boolean> {
    if (this.#ended) return false;
    this.#retireChunk();
    for (;;) {
      const next = await this.#source.next();
      if (next.done) {
        this.#ended = true;
        return false;
      }
      if (next.value.length === 0) {
        this.#retire?.(next.value);
        continue;
      }
      this.#chunk = next.value;
      this.#offset = 0;
      return true;
    }
  }

  #retireChunk(): void {
    const chunk = this.#chunk;
    this.#chunk = Buffer.alloc(0);
    this.#offset = 0;
    if (chunk.length > 0) this.#retire?.(chunk);
  }

  async #take(size: number, endOk: boolean): Promise<Buffer | undefined> {
    if (this.#offset === this.#chunk.length && !(await this.#pull())) {
      if (endOk) return undefined;
      throw this.#truncated();
    }
    if (this.buffered >= size) {
      const slice = this.#chunk.subarray(this.#offset, this.#offset + size);
      this.#offset += size;
      return slice;
    }
    const whole = Buffer.allocUnsafe(size);
    for (let filled = 0; filled < size;) filled += (await this.slice(size - filled)).copy(whole, filled);
    return whole;
  }

  #truncated(): FailsafeError {
    return this.#corrupt('the archive ends in the middle of an entry');
  }

  #corrupt(why: string): FailsafeError {
    return new FailsafeError('E_CORRUPT', `${this.#what}: ${why}`);
  }
}

export function padding(size: number): number {
  const over = size % BLOCK;
  return over === 0 ? 0 : BLOCK - over;
}

function checksum(block: Buffer): number {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < BLOCK; i++) sum += block[i]!;
  return sum;
}

function isUstar(block: Buffer): boolean {
  return block.toString('latin1', 257, 263) === 'ustar\0';
}

function text(block: Buffer, offset: number, length: number): string {
  const end = block.indexOf(0, offset);
  return block.toString('utf8', offset, end === -1 || end > offset + length ? offset + length : end);
}

/** An octal field (spaces and NULs around it allowed). */
function octal(block: Buffer, offset: number, length: number): number {
  const field = block
    .toString('latin1', offset, offset + length)
    .replace(/[\0 ]+$/, '')
    .replace(/^[\0 ]+/, '');
  return field === '' ? 0 : parseInt(field, 8);
}

/** The size field: octal, or base-256 with the high bit set (past 8 GiB). */
function size12(block: Buffer): number {
  if ((block[124]! & 0x80) === 0) return octal(block, 124, 12);
  let value = 0;
  for (let i = 125; i < 136; i++) value = value * 256 + block[i]!;
  return value;
}

/** `<length> <key>=<value>\n` records; a value's bytes that are not UTF-8 (a name's, `hdrcharset=BINARY`) are kept as core/fs/name-bytes.ts does. */
function parsePax(records: Buffer): Map<string, string> {
  const values = new Map<string, string>();
  let at = 0;
  while (at < records.length) {
    const space = records.indexOf(0x20, at);
    const length = space === -1 ? 0 : parseInt(records.toString('latin1', at, space), 10);
    if (!(length > 0) || at + length > records.length) break;
    const record = decodeName(records.subarray(space + 1, at + length - 1));
    const equals = record.indexOf('=');
    if (equals > 0) values.set(record.slice(0, equals), record.slice(equals + 1));
    at += length;
  }
  return values;
}
