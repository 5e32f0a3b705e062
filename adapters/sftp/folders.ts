/**
 * The folders under an SFTP target's root: made on demand when a put needs
 * them, and removed once a delete leaves them empty, so deleted snapshots
 * leave no empty folders behind.
 */
import { posix } from 'node:path';
import type { Connection } from './connection.js';
import { isMissing } from './errors.js';
import { sftpOps as ops } from './transfer.js';

export class RemoteFolders {
  readonly root: string;
  /** Folders known to exist, so a put into one costs no extra round trip. */
  readonly #made = new Map<string, Promise<void>>();

  constructor(root: string) {
    this.root = root;
  }

  /**
   * Creates the temp file, making its folders when they are missing. A
   * concurrent delete tidies empty folders away (a lock withdrawn by another
   * process, say) and may do so between our mkdir and our open, or before it
   * with our cache still saying the folders exist: so the cache of every
   * ancestor is dropped and the open tried again, a few times.
   */
  async openForWrite(connection: Connection, temp: string): Promise<Buffer> {
    const dir = posix.dirname(temp);
    for (let attempt = 1; ; attempt++) {
      try {
        return await ops.open(connection, temp, 'wx');
      } catch (err) {
        if (!isMissing(err) || attempt === 4) throw err;
      }
      for (let d = dir; this.#isBelowRoot(d); d = posix.dirname(d)) this.#made.delete(d);
      await this.#mkdirs(connection, dir).catch((err: unknown) => {
        if (!isMissing(err) || attempt === 4) throw err;
      });
    }
  }

  /** Removes the folders holding `path` that are now empty, from the nearest up to (not including) the root. */
  async removeEmptyAbove(connection: Connection, path: string): Promise<void> {
    for (let dir = posix.dirname(path); this.#isBelowRoot(dir); dir = posix.dirname(dir)) {
      this.#made.delete(dir);
      if (
        !(await ops.rmdir(connection, dir).then(
          () => true,
          () => false,
        ))
      )
        break;
    }
  }

  #isBelowRoot(dir: string): boolean {
    return dir !== this.root && dir.startsWith(`${this.root}/`);
  }

  /** mkdir -p, tolerating a concurrent put creating the same folders. */
  #mkdirs(connection: Connection, dir: string): Promise<void> {
    let made = this.#made.get(dir);
    if (!made) {
      made = (async () => {
        const exists = await ops.stat(connection, dir).then(
          (s) => s.isDirectory(),
          () => false,
        );
        if (exists) return;
        const parent = posix.dirname(dir);
        if (parent !== dir && parent !== '.') await this.#mkdirs(connection, parent);
        await ops.mkdir(connection, dir).catch(async (err: unknown) => {
          if (
            !(await ops.stat(connection, dir).then(
              (s) => s.isDirectory(),
              () => false,
            ))
          )
            throw err;
        });
      })();
      this.#made.set(dir, made);
      made.catch(() => this.#made.delete(dir));
    }
    return made;
  }
}
