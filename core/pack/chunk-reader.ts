/**
 * Reads chunks back (format v2): the index says which pack and where; one
 * ranged read fetches the sealed chunk, opened with its pack's run key
 * (found through the pack's trailer, once per pack) and checked against its
 * id, so a chunk that decrypts but is not the one asked for is refused.
 */
import { chunkId, CHUNK_ID_BYTES } from '../chunking/chunk-id.js';
import type { SegmentCipher, SegmentCodec } from '../contracts.js';
import type { KeySlot } from '../crypto/keys.js';
import { FailsafeError, isFailsafeError } from '../errors.js';
import type { Storage } from '../repository/storage.js';
import type { LoadedIndex } from './chunk-writer.js';
import { chunkContext } from './format.js';
import { PackEntries } from './pack-entries.js';
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

export interface OpenedPack {
  cipher: SegmentCipher;
  /** The run key, when `openKey` gave it. */
  key?: Uint8Array;
  /** The pack's local file, when the adapter has one. */
  file?: string;
  entries: PackEntries;
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

/** Where a chunk lies, found through the index and checked against its pack's header (`ChunkReader.locate`). */
export interface ChunkPlace {
  id: Buffer;
  packKey: string;
  pack: OpenedPack;
  /** Its sealed bytes' offset in the pack, and their length. */
  start: number;
  length: number;
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
    const { packKey, pack, start, length, plainLength } = await this.locate(id, options);
    const what = `${this.storage.targetName}:${packKey}`;
    const read = { id, packKey, what, pack, range: { start, end: start + length - 1 }, plainLength };
    // Fetched again when the transfer breaks or the bytes fail their check (read-again.ts).
    return this.storage.readAgain(() => damaged(() => this.#readOnce(read, options), `${what}: chunk ${id.toString('hex')}`), { signal: options.signal });
  }

  /**
   * Chunks in the order given (`locate`d, of any packs), opened one after
   * another into `into.buffer`, each checked against its id; their
   * plaintexts' lengths. Chunks that lie one after another in a pack are read
   * in one piece. With workers (and the packs' run keys) they are opened
   * there, into the shared slot `into.slot` of the pool's restore setup,
   * which `into.buffer` is; a local pack is read there too.
   */
  async readRun(places: ChunkPlace[], into: { slot: number; buffer: Buffer }, options: ChunkReadOptions = {}): Promise<Uint32Array> {
    const plan = planPieces(places, this.storage.localFiles ? 0 : REMOTE_GAP, this.storage.targetName);
    const { workers, signal } = options;
    const fetch = async (): Promise<Buffer> => {
      const got = await Promise.all(
        plan.pieces.map(async ({ packKey, start, end, what }) => {
          const bytes = await this.storage.getBuffer(packKey, { ...(signal ? { signal } : {}), range: { start, end: end - 1 } });
          if (bytes.length !== end - start) throw new FailsafeError('E_CHECKSUM', `${what} ends before the chunks the index places up to ${end}`);
          return bytes;
        }),
      );
      return got.length === 1 ? got[0]! : Buffer.concat(got);
    };
    const once = async (): Promise<Uint32Array> => {
      if (!workers || !plan.packs.every((p) => p.key)) return this.#openRun(places, plan.spans, await fetch(), into.buffer);
      const local = plan.packs.every((p) => p.file);
      const sealed = local ? plan.pieces.map(({ pack, start, end, what }) => ({ file: pack.file!, offset: start, length: end - start, what })) : await fetch();
      const packs = plan.packs.map((pack, i) => ({ key: pack.key!, what: plan.whats[i]! }));
      return workers.openRun({ sealed, packs, ids: plan.ids, spans: plan.spans, slot: into.slot });
    };
    return this.storage.readAgain(() => damaged(once, `${plan.whats[0]}: a run of ${places.length} chunks`), { signal });
  }

  /** `readRun` on this thread. */
  #openRun(places: ChunkPlace[], spans: Uint32Array, sealed: Buffer, out: Buffer): Uint32Array {
    const lengths = new Uint32Array(places.length);
    let filled = 0;
    places.forEach((place, i) => {
      const from = spans[i * 4]!;
      const what = `${this.storage.targetName}:${place.packKey}`;
      const compressed = place.pack.cipher.decrypt(sealed.subarray(from, from + place.length), chunkContext(place.id));
      const plain = this.codec.decompress(compressed, place.plainLength, out.subarray(filled, filled + place.plainLength));
      if (!chunkId(this.keys.idKey, plain).equals(place.id))
        throw new FailsafeError('E_CHECKSUM', `${what}: chunk ${place.id.toString('hex')} does not match its id`);
      lengths[i] = plain.length;
      filled += plain.length;
    });
    return lengths;
  }

  /** The chunk's pack (its header read once) and place in it, where the index and the header agree. */
  async locate(id: Buffer, options: ChunkReadOptions = {}): Promise<ChunkPlace> {
    const at = this.known.index.get(id);
    if (!at) throw new FailsafeError('E_NOT_FOUND', `chunk ${id.toString('hex')} is in no pack of the index`);
    const packKey = this.known.packs[at.pack]!;
    const pack = await this.#pack(packKey, options);
    const plainLength = pack.entries.plainLength(id, at.offset, at.length);
    if (plainLength === undefined) {
      throw new FailsafeError('E_CORRUPT', `${this.storage.targetName}:${packKey}: the index and the pack disagree on chunk ${id.toString('hex')}`);
    }
    return { id, packKey, pack, start: at.offset, length: at.length, plainLength };
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
        return { cipher, ...(runKey ? { key: runKey } : {}), ...(file ? { file } : {}), entries: new PackEntries(entries) };
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

/** Bytes between two chunks of a remote pack read past rather than asked for separately: a request costs more. */
const REMOTE_GAP = 256 * 1024;
/** A run's reads, gaps included, at most: a worker's read buffer grows to it. */
const MOST_READ = 8 * 1024 * 1024;

interface RunPlan {
  /** Pieces of packs to read, one after another. */
  pieces: { packKey: string; pack: OpenedPack; start: number; end: number; what: string }[];
  /** The run's packs, and `<target>:<pack key>` for each. */
  packs: OpenedPack[];
  whats: string[];
  ids: Uint8Array;
  /** Per chunk: where its sealed bytes start in the pieces read, their length, its plaintext's length, its pack (in `packs`). */
  spans: Uint32Array;
}

/** The pieces a run's chunks are read in: a chunk after the last one's end in the same pack, within `gap`, joins its piece. */
function planPieces(places: ChunkPlace[], gap: number, target: string): RunPlan {
  const plan: RunPlan = { pieces: [], packs: [], whats: [], ids: new Uint8Array(places.length * CHUNK_ID_BYTES), spans: new Uint32Array(places.length * 4) };
  const packNumbers = new Map<string, number>();
  let at = 0;
  places.forEach((place, i) => {
    let number = packNumbers.get(place.packKey);
    if (number === undefined) {
      number = plan.packs.push(place.pack) - 1;
      plan.whats.push(`${target}:${place.packKey}`);
      packNumbers.set(place.packKey, number);
    }
    const last = plan.pieces.at(-1);
    const skip = last && last.packKey === place.packKey ? place.start - last.end : -1;
    if (last && skip >= 0 && skip <= gap && at + skip + place.length <= MOST_READ) {
      at += skip;
      last.end = place.start + place.length;
    } else {
      plan.pieces.push({ packKey: place.packKey, pack: place.pack, start: place.start, end: place.start + place.length, what: plan.whats[number]! });
    }
    plan.spans.set([at, place.length, place.plainLength, number], i * 4);
    plan.ids.set(place.id, i * CHUNK_ID_BYTES);
    at += place.length;
  });
  return plan;
}
