/**
 * Reads chunks back (format v2): the index says which pack and where; one
 * ranged read fetches the sealed chunk, opened with its pack's run key
 * (found through the pack's trailer, once per pack) and checked against its
 * id, so a chunk that decrypts but is not the one asked for is refused.
 */
import { chunkId } from '../chunking/chunk-id.js';
import type { SegmentCipher, SegmentCodec } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { FailsafeError, isFailsafeError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import type { LoadedIndex } from './chunk-writer.js';
import { chunkContext, type PackEntry } from './format.js';
import { readPackHeader } from './read-header.js';
import type { SegmentWorkers } from '../pipeline/segment-workers.js';

export interface ChunkReaderKeys {
  idKey: Uint8Array;
  /** The cipher of a pack's run key, from the key slots in its trailer. */
  open(slots: KeySlot[]): SegmentCipher;
  /** The run key itself, for the worker threads that open chunks (`read`'s `workers`). */
  openKey?(slots: KeySlot[]): Uint8Array;
}

export interface ChunkReadOptions {
  signal?: AbortSignal;
  /** Decrypt, decompress and check in these threads, not on the caller's. */
  workers?: SegmentWorkers;
}

interface OpenedPack {
  cipher: SegmentCipher;
  /** The run key, when `openKey` gave it. */
  key?: Uint8Array;
  /** The pack's local file, when the adapter has one. */
  file?: string;
  entries: Map<string, PackEntry>;
}

interface OneRead {
  id: Buffer;
  packKey: string;
  /** `<target>:<pack key>`, for messages. */
  what: string;
  pack: OpenedPack;
  range: { start: number; end: number };
  plainLength: number;
}

export class ChunkReader {
  readonly #ciphers = new Map<string, Promise<OpenedPack>>();

  constructor(
    readonly storage: Storage,
    readonly known: LoadedIndex,
    readonly keys: ChunkReaderKeys,
    readonly codec: SegmentCodec,
  ) {}

  async read(id: Buffer, options: ChunkReadOptions = {}): Promise<Buffer> {
    const at = this.known.index.get(id);
    if (!at) throw new FailsafeError('E_NOT_FOUND', `chunk ${id.toString('hex')} is in no pack of the index`);
    const packKey = this.known.packs[at.pack]!;
    const pack = await this.#pack(packKey, options);
    const entry = pack.entries.get(id.toString('hex'));
    if (!entry || entry.offset !== at.offset || entry.length !== at.length) {
      throw new FailsafeError('E_CORRUPT', `${this.storage.targetName}:${packKey}: the index and the pack disagree on chunk ${id.toString('hex')}`);
    }
    const what = `${this.storage.targetName}:${packKey}`;
    const read = { id, packKey, what, pack, range: { start: at.offset, end: at.offset + at.length - 1 }, plainLength: entry.plainLength };
    // Fetched again when the transfer breaks or the bytes fail their check (read-again.ts).
    return this.storage.readAgain(() => damaged(() => this.#readOnce(read, options), `${what}: chunk ${id.toString('hex')}`), { signal: options.signal });
  }

  async #readOnce(read: OneRead, options: ChunkReadOptions): Promise<Buffer> {
    const { id, packKey, what, pack, range, plainLength } = read;
    const { workers } = options;
    // A local pack is read by the worker itself: no stream, no copy and no thread hop per chunk.
    if (workers && pack.key && pack.file) {
      const sealed = { file: pack.file, offset: range.start, length: range.end - range.start + 1 };
      return workers.openChunk({ sealed, key: pack.key, id, idKey: this.keys.idKey, plainLength, what });
    }
    const sealed = await this.storage.getBuffer(packKey, { ...(options.signal ? { signal: options.signal } : {}), range });
    if (workers && pack.key) return workers.openChunk({ sealed, key: pack.key, id, idKey: this.keys.idKey, plainLength, what });
    const plain = this.codec.decompress(pack.cipher.decrypt(sealed, chunkContext(id)), plainLength);
    if (!chunkId(this.keys.idKey, plain).equals(id)) throw new FailsafeError('E_CHECKSUM', `${what}: chunk ${id.toString('hex')} does not match its id`);
    return plain;
  }

  /** A pack's cipher and header, read once: its tail holds the key slots and the sealed list of its chunks. */
  #pack(key: string, options: ChunkReadOptions): Promise<OpenedPack> {
    let pack = this.#ciphers.get(key);
    if (!pack) {
      let runKey: Uint8Array | undefined;
      const open = (slots: KeySlot[]): SegmentCipher => {
        runKey = this.keys.openKey?.(slots);
        return this.keys.open(slots);
      };
      pack = readPackHeader(this.storage, key, open, options.signal ? { signal: options.signal } : {}).then(async ({ cipher, entries }) => {
        const file = await this.storage.filePath(key);
        return { cipher, ...(runKey ? { key: runKey } : {}), ...(file ? { file } : {}), entries: new Map(entries.map((e) => [e.id.toString('hex'), e])) };
      });
      pack.catch(() => this.#ciphers.delete(key));
      this.#ciphers.set(key, pack);
    }
    return pack;
  }
}

/**
 * The pack's header opened with its key, so a chunk of it that fails its
 * authentication is damaged, not sealed under another key: E_CHECKSUM, which
 * a read from a remote store tries again (core/repository/read-again.ts).
 */
async function damaged<T>(read: () => Promise<T>, what: string): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isFailsafeError(err, 'E_WRONG_KEY')) throw new FailsafeError('E_CHECKSUM', `${what} fails its authentication: the pack is damaged`, { cause: err });
    throw err;
  }
}
