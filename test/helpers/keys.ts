/** What the key-rotation tests share: a deployment of two jobs (so two snapshots), and the hash of every file of a target. */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Two jobs, one snapshot each per backup. */
export const JOBS = `jobs:
  app:
    sources: [{ type: directory, path: ./app/data }]
    targets: [disk]
  cfg:
    sources: [{ type: config-file, path: ./app/config.json, name: config }]
    targets: [disk]`;

/** The SHA-256 of every file under `dir` (or its folder `base`), by path. */
export async function hashes(dir: string, base = ''): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(join(dir, base), { withFileTypes: true })) {
    const rel = base ? `${base}/${entry.name}` : entry.name;
    if (entry.isDirectory()) Object.assign(out, await hashes(dir, rel));
    else
      out[rel] = createHash('sha256')
        .update(await readFile(join(dir, rel)))
        .digest('hex');
  }
  return out;
}
