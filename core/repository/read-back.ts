/**
 * Reading back what was written (issue 26, a target's `verifyUploads`): a put
 * resolves only once the store has given back the bytes sent — a sample of
 * them (the size, and one window at a random offset) or all of them. Adapters
 * already have the store check a checksum where the protocol allows
 * (core/contracts.ts, `put`), but a store that ignores checksums and answers
 * without an MD5 ETag, or keeps other bytes than it acknowledged (a framing
 * stored inside the object, a truncated file on a NAS share), is caught only
 * by reading back. It wraps the adapter, under the `Storage` facade, so every
 * object — v1 segments, v2 packs and indexes, manifests and snapshots — is
 * known good before its put resolves, and the manifest, written after every
 * put of the objects it names resolved, never names a damaged one.
 *
 * A mismatch is put again (the damage was most likely on the way) and read back
 * again, a bounded number of times; then the put fails with E_CHECKSUM.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import type { ByteRange, PutOptions, StorageAdapter, StorageCapabilities } from '../contracts.js';
import { FailsafeError } from '../errors.js';
import { READ_TRIES, readAgain } from './read-again.js';
import type { RetryListener } from './retry-counts.js';
import { sliceStream } from './storage.js';

export const VERIFY_UPLOADS = ['sample', 'all', 'off'] as const;
export type VerifyUploads = (typeof VERIFY_UPLOADS)[number];
/** docs/configuration.md justifies it: one HEAD and one 64 KiB read per object, 1.6 % of a 4 MiB segment. */
export const DEFAULT_VERIFY_UPLOADS: VerifyUploads = 'sample';

/**
 * A target's `verifyUploads` when its YAML does not say: `off` where the store itself checks a checksum of every
 * put's bytes (the `verifiesChecksums` capability), which a read-back would only confirm; else the default.
 */
export function verifyUploadsFor(capabilities: StorageCapabilities): VerifyUploads {
  return capabilities.verifiesChecksums === true ? 'off' : DEFAULT_VERIFY_UPLOADS;
}
/** The window `sample` reads back; an object this size or smaller is read whole. */
export const SAMPLE_BYTES = 64 * 1024;

export interface ReadBackOptions {
  /** Puts in all before giving up (default READ_TRIES). */
  tries?: number;
  /** Told of each read-back that did not match, before the object is put again. */
  onMismatch?: (key: string, problem: string, attempt: number) => void;
  /** Hears of each object put again (`readBacks`) and each read-back fetched again (`refetched`). */
  counted?: RetryListener;
  /** A start in [0, max] for the sampled window (default: uniform random). */
  pick?: (max: number) => number;
}

/** The adapter with every put read back as `mode` says; the adapter itself for `off`. */
export function withReadBack(adapter: StorageAdapter, mode: VerifyUploads, options: ReadBackOptions = {}): StorageAdapter {
  if (mode === 'off') return adapter;
  const check = new ReadBack(adapter, mode, options);
  const put = check.put.bind(check);
  // A proxy rather than a delegating class: the optional members (getBuffer, filePath, …) stay exactly those the adapter has.
  return new Proxy(adapter, {
    get(target, property) {
      if (property === 'put') return put;
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

class ReadBack {
  constructor(
    readonly inner: StorageAdapter,
    readonly mode: 'sample' | 'all',
    readonly options: ReadBackOptions,
  ) {}

  async put(key: string, body: Readable | Buffer, options: PutOptions = {}): Promise<{ size: number }> {
    // A stream can be put only once: its size and hash are checked, and a mismatch fails at once.
    if (!Buffer.isBuffer(body)) return this.#putStream(key, body, options);
    const tries = Math.max(1, this.options.tries ?? READ_TRIES);
    for (let attempt = 1; ; attempt++) {
      const result = await this.inner.put(key, body, options);
      const problem = await this.#compare(key, body, options);
      if (problem === undefined) return result;
      if (attempt >= tries) throw mismatch(key, problem, tries);
      this.options.onMismatch?.(key, problem, attempt);
      this.options.counted?.('readBacks');
    }
  }

  /** Why the stored object is not `body`, or undefined when what was read back matches. */
  async #compare(key: string, body: Buffer, options: PutOptions): Promise<string | undefined> {
    const signal = options.signal ? { signal: options.signal } : {};
    if (this.mode === 'all' || body.length <= SAMPLE_BYTES) {
      const stored = await this.#read(key, undefined, options);
      if (stored.length !== body.length) return `${stored.length} bytes read back, ${body.length} were sent`;
      return stored.equals(body) ? undefined : `the bytes read back differ from those sent`;
    }
    const info = await this.inner.head(key, signal);
    if (info === undefined) return 'the object is not there when read back';
    if (info.size !== body.length) return `the store holds ${info.size} bytes, ${body.length} were sent`;
    const pick = this.options.pick ?? ((max: number) => Math.floor(Math.random() * (max + 1)));
    const start = Math.min(Math.max(0, pick(body.length - SAMPLE_BYTES)), body.length - SAMPLE_BYTES);
    const range = { start, end: start + SAMPLE_BYTES - 1 };
    const stored = await this.#read(key, range, options);
    return stored.equals(body.subarray(range.start, range.end + 1)) ? undefined : `bytes ${range.start}–${range.end} read back differ from those sent`;
  }

  /** The object or a range of it; a read that breaks (a reset, a stall) is read again, not put again. */
  #read(key: string, range: ByteRange | undefined, options: PutOptions): Promise<Buffer> {
    const signal = options.signal ? { signal: options.signal } : {};
    return readAgain(
      async () => {
        if (range === undefined && this.inner.getBuffer) return this.inner.getBuffer(key, signal);
        const ranged = range !== undefined && this.inner.capabilities.rangeRead;
        let stream = await this.inner.get(key, ranged ? { ...signal, range } : signal);
        if (range !== undefined && !ranged) stream = sliceStream(stream, range);
        const chunks: Buffer[] = [];
        for await (const chunk of stream) chunks.push(chunk as Buffer);
        return Buffer.concat(chunks);
      },
      { ...signal, onRetry: (err) => this.options.counted?.('refetched', err) },
    );
  }

  async #putStream(key: string, body: Readable, options: PutOptions): Promise<{ size: number }> {
    const hash = createHash('sha256');
    let size = 0;
    const counted = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    body.on('error', (err) => counted.destroy(err));
    const result = await this.inner.put(key, body.pipe(counted), options);
    const sent = hash.digest('hex');
    if (this.mode === 'sample') {
      const info = await this.inner.head(key, options.signal ? { signal: options.signal } : {});
      if (info?.size !== size) throw mismatch(key, `the store holds ${info?.size ?? 'no'} bytes, ${size} were sent`, 1);
      return result;
    }
    const stored = await this.#read(key, undefined, options);
    const got = createHash('sha256').update(stored).digest('hex');
    if (got !== sent) throw mismatch(key, `SHA-256 ${got} read back, ${sent} was sent`, 1);
    return result;
  }
}

function mismatch(key: string, problem: string, tries: number): FailsafeError {
  const times = tries > 1 ? ` (the same on ${tries} puts)` : '';
  return new FailsafeError('E_CHECKSUM', `put ${key}: read back after writing, the store does not hold what was sent: ${problem}${times}`, {
    object: key,
  });
}
