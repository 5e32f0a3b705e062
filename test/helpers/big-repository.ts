/**
 * A large repository made cheaply for the dashboard's page-load measurement:
 * one real backup, then many snapshots written straight as manifests (no
 * CLI run, no data read), and one snapshot whose tree holds many files. The
 * copies share the real snapshot's segments: they list, browse and diff like
 * real ones, but only the real one restores. Needs `encryption: none`, where
 * a manifest is sealed by its checksum alone.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Failsafe } from '../../api/failsafe.js';
import { FailsafeError } from '../../core/errors.js';
import { decodeManifest, encodeManifest, type Manifest, type ManifestEntry } from '../../core/format/manifest.js';
import { manifestKey, newSnapshotId } from '../../core/repository/layout.js';

export interface BigRepository {
  /** The real snapshot the others copy. */
  real: string;
  /** The newest snapshot, whose tree holds `treeFiles` files. */
  big: string;
}

const HOUR = 3_600_000;

async function write(target: string, manifest: Manifest, storedBytes: number, durationMs: number): Promise<void> {
  const stats = {
    files: manifest.entries.filter((e) => e.type === 'file').length,
    bytes: manifest.sources.reduce((sum, s) => sum + s.bytes, 0),
    storedBytes,
    segments: manifest.segments.length,
  };
  await writeFile(
    join(target, ...manifestKey(manifest.job, manifest.id).split('/')),
    await encodeManifest(manifest, stats, { cipher: 'none' }, { durationMs }),
  );
}

/** `files` files in folders of 100, under folders of 10 folders: `tree/d<i>/s<j>/f<k>.txt`. */
function treeEntries(real: ManifestEntry[], files: number): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  const template = (type: string): ManifestEntry => {
    const { sha256: _sha256, linkTarget: _link, ...entry } = real.find((e) => e.type === type)!;
    return entry;
  };
  const [folder, file] = [template('directory'), template('file')];
  const dir = (path: string): ManifestEntry => ({ ...folder, path });
  entries.push(dir('tree'));
  for (let n = 0; n < files; n += 1) {
    const [i, j, k] = [Math.floor(n / 1000), Math.floor(n / 100) % 10, n % 100];
    if (n % 1000 === 0) entries.push(dir(`tree/d${i}`));
    if (n % 100 === 0) entries.push(dir(`tree/d${i}/s${j}`));
    entries.push({ ...file, path: `tree/d${i}/s${j}/f${k}.txt`, size: 100 + (n % 900) });
  }
  return entries;
}

/** Fills `target` (a local target's folder) with `snapshots` snapshots of `job`, the newest with a tree of `treeFiles` files. */
export async function fillRepository(
  failsafe: Failsafe,
  target: string,
  options: { job: string; snapshots: number; treeFiles: number },
): Promise<BigRepository> {
  const { outcome, started } = await timedBackup(failsafe, options.job);
  const real = outcome.id;
  const object = await readFile(join(target, ...manifestKey(options.job, real).split('/')));
  const { manifest } = await decodeManifest(object, real, () => Promise.reject(new FailsafeError('E_WRONG_KEY', 'expected encryption: none')));
  const first = started - options.snapshots * HOUR;
  let big = real;
  for (let i = 0; i < options.snapshots - 1; i += 1) {
    const createdAt = new Date(first + i * HOUR);
    // Growing sizes, so that a chart of them has a shape.
    const sources = manifest.sources.map((s) => ({ ...s, bytes: s.bytes + i * 1000 }));
    const id = newSnapshotId(createdAt);
    const last = i === options.snapshots - 2;
    const entries = last ? [...manifest.entries, ...treeEntries(manifest.entries, options.treeFiles)] : manifest.entries;
    const bytes = last
      ? sources.map((s, n) => (n === 0 ? { ...s, bytes: s.bytes + entries.reduce((sum, e) => sum + (e.path.startsWith('tree/') ? e.size : 0), 0) } : s))
      : sources;
    // Durations that vary, as a chart of them would show.
    const durationMs = 2_000 + (i % 24) * 150;
    await write(target, { ...manifest, id, createdAt: createdAt.toISOString(), sources: bytes, entries }, outcome.storedBytes + i * 500, durationMs);
    if (last) big = id;
  }
  return { real, big };
}

async function timedBackup(failsafe: Failsafe, job: string): Promise<{ outcome: { id: string; storedBytes: number }; started: number }> {
  const started = Date.now();
  const [snapshot] = (await failsafe.backup([job])).snapshots;
  if (!snapshot) throw new Error(`the backup of ${job} made no snapshot`);
  return { outcome: snapshot, started };
}
