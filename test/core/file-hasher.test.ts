import { createHash, randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { FileHasher } from '../../core/read/file-hasher.js';

const sha256 = (...parts: Buffer[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
};

function shared(data: Buffer): Buffer {
  const out = Buffer.from(new SharedArrayBuffer(data.length));
  data.copy(out);
  return out;
}

let hashers: FileHasher[] = [];
afterEach(async () => {
  await Promise.all(hashers.map((h) => h.close()));
  hashers = [];
});
const make = () => {
  const h = new FileHasher();
  hashers.push(h);
  return h;
};

describe('file hasher thread', () => {
  it('gives the SHA-256 of each body, from shared memory and from copies, one body after another', async () => {
    const hasher = make();
    const a = [randomBytes(1000), randomBytes(300_000)];
    const b = [randomBytes(5), Buffer.alloc(0), randomBytes(70_000)];
    const first = hasher.begin();
    first.update(shared(a[0]!));
    first.update(a[1]!.subarray(0)); // not shared: copied
    const second = hasher.begin();
    for (const part of b) second.update(shared(part));
    expect(await first.digest()).toBe(sha256(...a));
    expect(await second.digest()).toBe(sha256(...b));
    expect(await hasher.begin().digest()).toBe(sha256());
  });

  it('holds the caller back once 16 MiB are in flight, and loses nothing', async () => {
    const hasher = make();
    const segment = shared(randomBytes(4 << 20));
    const body = hasher.begin();
    let waited = 0;
    for (let i = 0; i < 12; i++) {
      const wait = body.update(segment);
      if (wait) {
        waited++;
        await wait;
      }
    }
    expect(waited).toBeGreaterThan(0);
    expect(await body.digest()).toBe(sha256(...Array.from({ length: 12 }, () => segment)));
  });

  it('rejects with E_ABORTED once closed, instead of hanging', async () => {
    const hasher = new FileHasher();
    const body = hasher.begin();
    await hasher.close();
    await expect(body.digest()).rejects.toMatchObject({ code: 'E_ABORTED' });
    await expect(body.update(shared(randomBytes(10)))).rejects.toMatchObject({ code: 'E_ABORTED' });
  });
});
