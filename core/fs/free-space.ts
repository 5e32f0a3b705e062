/**
 * Whether a restore can fit, asked before anything is written: a restore
 * that runs out of space half-way has spent its time for nothing (and on an
 * SD card, its writes). The estimate is a lower bound — each file's bytes
 * rounded up to whole blocks, one inode per entry — so a restore that fits is
 * never refused; directories, metadata and a journal come on top of it. On
 * btrfs and zfs, which may compress or share blocks, only inodes are checked.
 */
import { statfs } from 'node:fs/promises';
import { FailsafeError } from '../errors.js';
import { nearestExisting } from './nearest-existing.js';

export interface SpaceNeed {
  /** Where the restore will write (need not exist yet: its nearest existing parent is asked). */
  path: string;
  /** The path a message names (the destination the user gave, rather than a staging folder). */
  shownAs?: string;
  /** The sizes of the files it will write there. */
  fileSizes: number[];
  /** Entries (files, directories, links) it will create there. */
  entries: number;
}

/**
 * File systems that may store a file in fewer blocks than its size (transparent
 * compression, deduplication): their free space is no bound on what fits.
 */
const COMPRESSING = new Set([
  0x9123683e, // btrfs
  0x2fc12fc1, // zfs
]);

interface FileSystemRoom {
  path: string;
  blockSize: number;
  /** Bytes this process may still use. */
  free: number;
  /** Inodes left, or undefined when the file system has no fixed number (btrfs, zfs report none). */
  inodes: number | undefined;
  bytesNeeded: number;
  entriesNeeded: number;
}

/** Throws E_NO_SPACE when the file system of some need cannot hold what is asked of it; needs on one file system add up. */
export async function assertRoomFor(needs: SpaceNeed[]): Promise<void> {
  const byDevice = new Map<number, FileSystemRoom>();
  for (const need of needs) {
    // A path that cannot be asked about is left to fail, if it does, when it is written.
    const probe = await nearestExisting(need.path).catch(() => undefined);
    if (!probe) continue;
    let room = byDevice.get(probe.stats.dev);
    if (!room) {
      const fs = await statfs(probe.path).catch(() => undefined);
      if (!fs) continue;
      // Root may use the blocks reserved for it; anyone else only what is available.
      const blocks = process.getuid?.() === 0 ? fs.bfree : fs.bavail;
      const free = COMPRESSING.has(fs.type) ? Infinity : blocks * fs.bsize;
      room = { path: need.shownAs ?? need.path, blockSize: fs.bsize, free, inodes: fs.files > 0 ? fs.ffree : undefined, bytesNeeded: 0, entriesNeeded: 0 };
      byDevice.set(probe.stats.dev, room);
    }
    room.bytesNeeded += blocksFor(need.fileSizes, room.blockSize);
    room.entriesNeeded += need.entries;
  }
  for (const room of byDevice.values()) {
    if (room.bytesNeeded > room.free) {
      throw new FailsafeError(
        'E_NO_SPACE',
        `the restore needs at least ${mib(room.bytesNeeded)} on the file system of ${room.path}, which has ${mib(room.free)} free; nothing was changed`,
      );
    }
    if (room.inodes !== undefined && room.entriesNeeded > room.inodes) {
      throw new FailsafeError(
        'E_NO_SPACE',
        `the restore creates ${room.entriesNeeded} files and folders on the file system of ${room.path}, which has room for ${room.inodes} more; nothing was changed`,
      );
    }
  }
}

/** Bytes `sizes` take as files on blocks of `blockSize` bytes (an empty file takes none). */
export function blocksFor(sizes: Iterable<number>, blockSize: number): number {
  let total = 0;
  for (const size of sizes) total += Math.ceil(size / blockSize) * blockSize;
  return total;
}

function mib(bytes: number): string {
  return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
