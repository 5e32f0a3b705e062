import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalAdapter, mountPointOf } from '../../adapters/local/local.js';
import type { StorageAdapter } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import { TEMP_PREFIX } from '../../core/fs/atomic.js';
import { Storage } from '../../core/repository/storage.js';
import { testStorageAdapter } from '../conformance/storage.js';

const roots = new WeakMap<StorageAdapter, string>();

testStorageAdapter('local', {
  create: async () => {
    const root = await mkdtemp(join(tmpdir(), 'failsafe-local-'));
    const adapter = new LocalAdapter({ path: join(root, 'store') });
    roots.set(adapter, root);
    return adapter;
  },
  destroy: async (adapter) => rm(roots.get(adapter)!, { recursive: true, force: true }),
  reopen: async (adapter) => new LocalAdapter({ path: (adapter as LocalAdapter).root }),
  folder: (adapter) => adapter as LocalAdapter,
  additionalTests({ adapter, storage }) {
    it('a key under an existing object is an E_STORAGE error naming the target and key', async () => {
      await storage().put('file', Buffer.from('x'));
      const err = await storage()
        .put('file/child', Buffer.from('y'))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(FailsafeError);
      expect((err as FailsafeError).code).toBe('E_STORAGE');
      expect((err as FailsafeError).message).toContain('file/child');
    });

    it('a folder larger than the stats asked ahead lists in key order with each size, around subfolders and temp files', async () => {
      const keys: string[] = [];
      for (let i = 0; i < 150; i++) {
        const key = i % 10 === 3 ? `m/${String(i).padStart(3, '0')}/inner` : `m/${String(i).padStart(3, '0')}`;
        keys.push(key);
        await storage().put(key, Buffer.alloc(i + 1));
        if (i % 7 === 0) await writeFile(join((adapter() as LocalAdapter).root, 'm', `${TEMP_PREFIX}${i}`), 'half');
      }
      const listed: [string, number][] = [];
      for await (const info of storage().list('m/')) listed.push([info.key, info.size]);
      expect(listed).toEqual(keys.map((key, i) => [key, i + 1]));
      // An object deleted once the listing has begun, before its stat is asked for, is skipped, as before.
      const after: string[] = [];
      for await (const info of storage().list('m/')) {
        if (after.push(info.key) === 1) await storage().delete('m/100');
      }
      expect(after).toEqual(keys.filter((key) => key !== 'm/100'));
      // Stopped early: the stats asked ahead are dropped, and nothing left pending fails later.
      const first: string[] = [];
      for await (const info of storage().list('m/')) if (first.push(info.key) === 5) break;
      expect(first).toEqual(['m/000', 'm/001', 'm/002', 'm/003/inner', 'm/004']);
    });
  },
});

describe('local: requireMount', () => {
  // The last line: a mount point can be mounted over more than once.
  const findmnt = (path: string): string => execFileSync('findmnt', ['-n', '-o', 'TARGET', '-T', path], { encoding: 'utf8' }).trim().split('\n').at(-1)!;

  it('finds the same mount point as findmnt, for existing and not yet existing paths', async () => {
    for (const path of ['/', tmpdir(), '/proc/self', '/dev/shm', import.meta.dirname]) {
      expect(await mountPointOf(path)).toBe(findmnt(path));
    }
    expect(await mountPointOf('/dev/shm/not/yet/created')).toBe(findmnt('/dev/shm'));
  });

  it('refuses to write to a folder on the root filesystem: the USB disk is not mounted', async () => {
    // A folder whose filesystem is `/` stands for /mnt/usb with the disk unplugged.
    const onRoot = ['/var/tmp', '/tmp', '/root', '/opt'].find((p) => findmnt(p) === '/');
    if (!onRoot) throw new Error('this test needs a writable folder on the root filesystem');
    const path = join(await mkdtemp(join(onRoot, 'failsafe-usb-')), 'backup');
    const storage = new Storage(new LocalAdapter({ path, requireMount: true }, 'usb'), 'usb');
    const err = await storage.put('x', Buffer.from('x')).catch((e: unknown) => e);
    expect((err as FailsafeError).code).toBe('E_NOT_MOUNTED');
    expect((err as FailsafeError).message).toContain('usb');
    expect((err as FailsafeError).message).toContain(path);
    await expect(readdir(path)).rejects.toThrow(/ENOENT/); // nothing was created
  });

  it('asks again at every write: a disk unmounted while the process runs (a daemon, the dashboard) is refused, not written around', async () => {
    const onRoot = ['/var/tmp', '/tmp', '/root', '/opt'].find((p) => findmnt(p) === '/');
    if (!onRoot) throw new Error('this test needs a writable folder on the root filesystem');
    const mounted = await mkdtemp('/dev/shm/failsafe-mounted-');
    const parent = await mkdtemp(join(onRoot, 'failsafe-usb-'));
    // The target's path is a link: pointing it at a folder of the root filesystem stands for the disk going away.
    const link = join(parent, 'usb');
    try {
      await symlink(mounted, link);
      const storage = new Storage(new LocalAdapter({ path: join(link, 'backup'), requireMount: true }, 'usb'), 'usb');
      await storage.put('first', Buffer.from('ok'));
      const unplugged = join(parent, 'empty-mount-point');
      await mkdir(unplugged);
      await rm(link);
      await symlink(unplugged, link);
      const err = await storage.put('second', Buffer.from('x')).catch((e: unknown) => e);
      expect((err as FailsafeError).code).toBe('E_NOT_MOUNTED');
      expect(await readdir(unplugged)).toEqual([]);
    } finally {
      await rm(mounted, { recursive: true, force: true });
      await rm(parent, { recursive: true, force: true });
    }
  });

  it('writes when the folder is on a filesystem of its own', async () => {
    const shm = findmnt('/dev/shm');
    expect(shm).toBe('/dev/shm');
    const path = await mkdtemp('/dev/shm/failsafe-mounted-');
    try {
      const storage = new Storage(new LocalAdapter({ path: join(path, 'nested'), requireMount: true }), 'usb');
      await storage.put('x', Buffer.from('ok'));
      expect((await storage.getBuffer('x')).toString()).toBe('ok');
    } finally {
      await rm(path, { recursive: true, force: true });
    }
  });
});
