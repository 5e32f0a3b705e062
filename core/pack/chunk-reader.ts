/**
 * Reads chunks back (format v2): the index says which pack and where; one
 * ranged read fetches the sealed chunk, opened with its pack's run key
 * (found through the pack's trailer, once per pack) and checked against its
 * id, so a chunk that decrypts but is not the one asked for is refused.
 */
import { chunkId } from '../chunking/chunk-id.js';
import type { SegmentCipher, SegmentCodec } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { FailsafeError } from '../errors.js';
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
  entries: Map<string, PackEntry>;
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
    const { cipher, key, entries } = await this.#pack(packKey, options);
    const entry = entries.get(id.toString('hex'));
    if (!entry || entry.offset !== at.offset || entry.length !== at.length) {
      throw new FailsafeError('E_CORRUPT', `${this.storage.targetName}:${packKey}: the index and the pack disagree on chunk ${id.toString('hex')}`);
    }
    // Fetched again when the transfer breaks or the bytes fail their check (read-again.ts).
    return this.storage.readAgain(
      async () => {
        const range = { start: at.offset, end: at.offset + at.length - 1 };
        const sealed = await this.storage.getBuffer(packKey, { ...(options.signal ? { signal: options.signal } : {}), range });
        if (options.workers && key) {
          const what = `${this.storage.targetName}:${packKey}`;
          return options.workers.openChunk({ sealed, key, id, idKey: this.keys.idKey, plainLength: entry.plainLength, what });
        }
        const plain = this.codec.decompress(cipher.decrypt(sealed, chunkContext(id)), entry.plainLength);
        if (!chunkId(this.keys.idKey, plain).equals(id))
          throw new FailsafeError('E_CHECKSUM', `${this.storage.targetName}:${packKey}: chunk ${id.toString('hex')} does not match its id`);
        return plain;
      },
      { signal: options.signal },
    );
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
      pack = readPackHeader(this.storage, key, open, options.signal ? { signal: options.signal } : {}).then(({ cipher, entries }) => ({
        cipher,
        ...(runKey ? { key: runKey } : {}),
        entries: new Map(entries.map((e) => [e.id.toString('hex'), e])),
      }));
      pack.catch(() => this.#ciphers.delete(key));
      this.#ciphers.set(key, pack);
    }
    return pack;
  }
}
