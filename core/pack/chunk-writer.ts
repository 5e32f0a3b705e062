/**
 * Stores chunks once (format v2): a chunk whose id the repository's index
 * already has, or that this run already queued, costs nothing; a new one is
 * compressed, sealed under the run's key and appended to one of two open
 * packs, chosen at random so a pack's layout does not spell out a file's
 * chunk sizes (docs/design/dedup.md). A full pack is uploaded while the
 * next chunks are cut and sealed, with at most `uploads` (1 or 2) in flight: when
 * they are all busy the next full pack waits (backpressure: memory stays at
 * two open packs and the uploads). A pack enters the index only once stored,
 * so the index never names a chunk the store lacks. `finish` waits for every
 * upload, stores the open packs, then one index object listing them. With
 * `spillDir` the open packs fill on local disk (core/pack/spilled-pack.ts):
 * only the packs being uploaded are held in memory.
 */
import { randomInt } from 'node:crypto';
import { chunkId } from '../chunking/chunk-id.js';
import type { SegmentCipher, SegmentCodec } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import type { ChunkIndex } from '../repository/chunk-index.js';
import type { Storage } from '../repository/storage.js';
import { crashPoint } from '../testing/crash.js';
import { DEFAULT_PACK_SIZE, PackBuffers, PackBuilder } from './builder.js';
import { SpilledPack } from './spilled-pack.js';
import { chunkContext, type ChunkKind } from './format.js';
import { encodeIndex, newIndexKey, type IndexedPack } from './index-object.js';

/** The repository's index as a backup loads it: chunk locations, and the pack keys their `pack` numbers name. */
export interface LoadedIndex {
  index: ChunkIndex;
  packs: string[];
}

export interface ChunkWriterKeys {
  idKey: Uint8Array;
  /** Seals this run's chunks and pack headers; `slots` wrap its key for the repository's secrets (or recipients). */
  cipher: SegmentCipher;
  slots: KeySlot[];
  /** Seals index objects. */
  indexCipher: SegmentCipher;
}

export interface ChunkWriterOptions {
  codec: SegmentCodec;
  packSize?: number;
  signal?: AbortSignal;
  /** 0 or 1: which open pack takes the next chunk (random by default; tests fix it). */
  choose?: () => number;
  /** Packs uploaded at once while chunking goes on (1 on a target of local files, else 2). */
  uploads?: number;
  /** A local folder to fill the open packs in (core/pack/spilled-pack.ts) instead of memory: the backup's cache folder. */
  spillDir?: string;
  /** Told after each pack and index object is stored (`stats.storedBytes` moved): a backup's progress follows the uploads, not only the reading. */
  onStored?: () => void;
}

export interface ChunkWriterStats {
  chunks: number;
  newChunks: number;
  /** Bytes of the packs and index objects stored. */
  storedBytes: number;
  packs: number;
}

export class ChunkWriter {
  readonly stats: ChunkWriterStats = { chunks: 0, newChunks: 0, storedBytes: 0, packs: 0 };
  readonly #open: [PackBuilder | SpilledPack, PackBuilder | SpilledPack];
  readonly #buffers: PackBuffers;
  /** Ids queued in the open packs (hex), not yet in the index. */
  readonly #pending = new Set<string>();
  readonly #written: IndexedPack[] = [];
  readonly #uploads = new Set<Promise<void>>();
  /** The first upload that failed: thrown by the next `add` or `finish`. */
  #failed: unknown;
  readonly #choose: () => number;

  constructor(
    readonly storage: Storage,
    readonly known: LoadedIndex,
    readonly keys: ChunkWriterKeys,
    readonly options: ChunkWriterOptions,
  ) {
    const size = options.packSize ?? DEFAULT_PACK_SIZE;
    // One buffer per open pack and per upload in flight, reused from pack to pack.
    this.#buffers = new PackBuffers(size + Math.ceil(size / 4), 2 + this.#uploadSlots);
    const { spillDir } = options;
    const open = (): PackBuilder | SpilledPack => (spillDir ? new SpilledPack(size, this.#buffers, spillDir) : new PackBuilder(size, this.#buffers));
    this.#open = [open(), open()];
    this.#choose = options.choose ?? (() => randomInt(2));
  }

  /** The chunk's id; stores its bytes unless the repository (or this run) has them already. */
  async add(plain: Buffer, kind: ChunkKind = 'data'): Promise<Buffer> {
    const id = chunkId(this.keys.idKey, plain);
    if (!this.reserve(id)) return id;
    await this.addSealed(id, kind, this.keys.cipher.encrypt(this.options.codec.compress(plain), chunkContext(id)), plain.length);
    return id;
  }

  /**
   * Counts a chunk and says whether it is new: neither in the index nor
   * reserved by this run. A new one is reserved, so a chunk sealed elsewhere
   * (a worker thread) is stored once however many times it comes up meanwhile;
   * the caller must then `addSealed` it or let the run fail.
   */
  reserve(id: Buffer): boolean {
    this.stats.chunks++;
    const hex = id.toString('hex');
    if (this.known.index.has(id) || this.#pending.has(hex)) return false;
    this.#pending.add(hex);
    this.stats.newChunks++;
    return true;
  }

  /** Copies a reserved chunk, sealed under `keys.cipher` with its chunk context, into an open pack (`sealed` is free again on return). */
  async addSealed(id: Buffer, kind: ChunkKind, sealed: Uint8Array, plainLength: number): Promise<void> {
    const builder = this.#open[this.#choose()]!;
    builder.add(id, kind, sealed, plainLength);
    if (builder.full) await this.#upload(builder);
  }

  /** Starts storing a full pack, once one of the `uploads` slots is free; its builder is empty again when this resolves. */
  async #upload(builder: PackBuilder | SpilledPack, last = false): Promise<void> {
    while (this.#uploads.size >= this.#uploadSlots) await Promise.race(this.#uploads);
    this.#throwIfFailed();
    // Chunks sealed in worker threads arrive concurrently: another caller may have sent this pack while we waited.
    if (last ? builder.count === 0 : !builder.full) return;
    const pack = builder.close(this.keys.cipher, this.keys.slots);
    const upload: Promise<void> = this.#put(pack).then(
      () => void this.#uploads.delete(upload),
      (err: unknown) => {
        this.#failed ??= err;
        this.#uploads.delete(upload);
      },
    );
    this.#uploads.add(upload);
  }

  /** Resolves once the packs being uploaded are stored (or throws the first failure); the open packs stay open. */
  async uploaded(): Promise<void> {
    await Promise.all(this.#uploads);
    this.#throwIfFailed();
  }

  /** One pack stored at a time on a target of local files (a write, not a round trip), two elsewhere. */
  get #uploadSlots(): number {
    return this.options.uploads ?? (this.storage.localFiles ? 1 : 2);
  }

  #throwIfFailed(): void {
    if (this.#failed !== undefined) throw this.#failed;
  }

  /** Stores the open packs, then an index object for every pack this run stored. Resolves with the packs. */
  async finish(): Promise<IndexedPack[]> {
    for (const builder of this.#open) await this.#upload(builder, true);
    await this.uploaded();
    if (this.#written.length > 0) {
      const index = encodeIndex(this.#written, this.keys.indexCipher);
      await this.storage.put(newIndexKey(), index, this.#storageOptions());
      this.stats.storedBytes += index.length;
      crashPoint('index-stored');
      this.options.onStored?.();
    }
    return [...this.#written];
  }

  /** Removes what a failed run left open: the spilled packs' files (a pack in memory is simply dropped). */
  async abandon(): Promise<void> {
    for (const pack of this.#open) if (pack instanceof SpilledPack) pack.abandon();
    await Promise.allSettled(this.#uploads);
  }

  async #put(pack: ReturnType<PackBuilder['close']>): Promise<void> {
    await this.storage.put(pack.key, pack.bytes, this.#storageOptions());
    // Stored (and read back, when the target verifies uploads): no one reads these bytes any more.
    this.#buffers.give(pack.bytes);
    this.stats.storedBytes += pack.bytes.length;
    this.stats.packs++;
    crashPoint('pack-stored', this.stats.packs);
    const number = this.known.packs.push(pack.key) - 1;
    for (const entry of pack.entries) {
      this.known.index.add(entry.id, { pack: number, offset: entry.offset, length: entry.length });
      this.#pending.delete(entry.id.toString('hex'));
    }
    this.#written.push({ key: pack.key, entries: pack.entries });
    this.options.onStored?.();
  }

  #storageOptions(): { signal?: AbortSignal } {
    return this.options.signal ? { signal: this.options.signal } : {};
  }
}
