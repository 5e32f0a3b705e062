// A storage adapter written against Failsafe's plugin SDK: every object is
// one file in a single folder, its key encoded into the file name
// (`manifests/app/x` → `manifests%2Fapp%2Fx`). Writes go to a hidden temp
// file that is renamed into place, so readers never see half an object.
//
//   plugins: [./plugins/flat-folder-adapter.js]
//   targets: { nas: { type: flat-folder, path: /mnt/nas/failsafe } }
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { defineAdapter, FailsafeError, fromNodeError, writeStreamTo, z } from 'failsafe';

const TEMP = '.tmp-';

export class FlatFolderAdapter {
  type = 'flat-folder';
  capabilities = { rangeRead: true, persistent: true };

  constructor({ path }) {
    this.root = path;
  }

  #file(key) {
    return join(this.root, encodeURIComponent(key));
  }

  async put(key, body, options = {}) {
    await mkdir(this.root, { recursive: true });
    const temp = join(this.root, `${TEMP}${randomBytes(6).toString('hex')}`);
    try {
      const handle = await open(temp, 'wx', 0o600);
      let size;
      try {
        if (Buffer.isBuffer(body)) {
          options.signal?.throwIfAborted();
          await handle.writeFile(body);
          size = body.length;
        } else size = await writeStreamTo(handle, body, options.signal);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.#file(key));
      return { size };
    } catch (err) {
      await rm(temp, { force: true });
      throw fromNodeError(err, `flat-folder: put ${key}`);
    }
  }

  async get(key, options = {}) {
    const file = this.#file(key);
    const info = await stat(file).catch(() => undefined);
    if (!info) throw new FailsafeError('E_NOT_FOUND', `flat-folder: ${key}: not found`);
    const { range } = options;
    return createReadStream(file, range ? { start: range.start, ...(range.end === undefined ? {} : { end: range.end }) } : {});
  }

  async head(key) {
    const info = await stat(this.#file(key)).catch(() => undefined);
    return info ? { key, size: info.size, modified: info.mtime } : undefined;
  }

  async *list(prefix) {
    const names = await readdir(this.root).catch((err) => (err.code === 'ENOENT' ? [] : Promise.reject(fromNodeError(err, 'flat-folder: list'))));
    const keys = names
      .filter((name) => !name.startsWith(TEMP))
      .map((name) => decodeURIComponent(name))
      .filter((key) => key.startsWith(prefix))
      .sort();
    for (const key of keys) {
      const info = await this.head(key);
      if (info) yield info;
    }
  }

  async delete(key) {
    await rm(this.#file(key), { force: true });
  }
}

export default defineAdapter({
  type: 'flat-folder',
  optionsSchema: z.object({ path: z.string().min(1) }).strict(),
  create: (options) => new FlatFolderAdapter(options),
});
