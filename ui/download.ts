/**
 * Downloads from a snapshot: one file as it is, or a folder as tar.gz. Both
 * are a restore of that one path (`failsafe restore <id> --source S --path P
 * --to <scratch>`, with every check, reading only what holds the path) into
 * a private scratch folder, then streamed to the page and removed when the
 * stream ends or the page goes away.
 */
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { pack, type Pack } from 'tar-stream';
import type { Failsafe } from '../api/failsafe.js';
import { FailsafeError } from '../core/errors.js';
import { literalGlob, splitPath } from './paths.js';

type Select = { job?: string; target?: string };

export async function download(failsafe: Failsafe, id: string, path: string, select: Select): Promise<Response> {
  const { source, inside } = splitPath(path, { sourceAlone: true });
  const scratch = await mkdtemp(join(tmpdir(), 'failsafe-ui-'));
  const removeScratch = (): void => void rm(scratch, { recursive: true, force: true });
  try {
    await failsafe.restore(id, { ...select, to: scratch, sources: [source], ...(inside ? { paths: [literalGlob(inside)] } : {}), safetySnapshot: false });
    const local = join(scratch, source, inside);
    const info = await lstat(local).catch(() => undefined);
    if (!info || !(info.isFile() || info.isDirectory())) throw new FailsafeError('E_USAGE', `"${path}" is neither a file nor a folder in snapshot ${id}`);
    const name = basename(inside || source);
    if (info.isFile()) {
      const body = createReadStream(local).on('close', removeScratch);
      return attachment(body, name, 'application/octet-stream', info.size);
    }
    const archive = pack();
    const gzip = createGzip();
    archive.on('error', (err) => gzip.destroy(err)).pipe(gzip);
    // A page that goes away stops the packing (and its reads) too.
    gzip.on('close', () => (archive.destroy(), removeScratch()));
    addTree(archive, local, name).then(
      () => archive.finalize(),
      (err: unknown) => archive.destroy(err as Error),
    );
    return attachment(gzip, `${name}.tar.gz`, 'application/gzip');
  } catch (err) {
    removeScratch();
    throw err;
  }
}

function attachment(body: Readable, name: string, type: string, size?: number): Response {
  const safe = name.replace(/[^\w.-]/g, '_');
  return new Response(Readable.toWeb(body) as ReadableStream, {
    headers: {
      'Content-Type': type,
      ...(size === undefined ? {} : { 'Content-Length': String(size) }),
      'Content-Disposition': `attachment; filename="${safe}"; filename*=UTF-8''${encodeURIComponent(name)}`,
    },
  });
}

/** The folder at `local` into the archive as `name/…`, one entry after the other (a tar is sequential), in name order. */
async function addTree(archive: Pack, local: string, name: string): Promise<void> {
  const info = await lstat(local);
  const header = { name, mode: info.mode & 0o7777, mtime: info.mtime };
  if (info.isDirectory()) {
    await entry(archive, { ...header, type: 'directory' });
    for (const child of (await readdir(local)).sort()) await addTree(archive, join(local, child), `${name}/${child}`);
  } else if (info.isSymbolicLink()) {
    await entry(archive, { ...header, type: 'symlink', linkname: await readlink(local) });
  } else if (info.isFile()) {
    const sink = archive.entry({ ...header, type: 'file', size: info.size });
    await pipeline(createReadStream(local), sink);
  }
}

function entry(archive: Pack, header: Parameters<Pack['entry']>[0]): Promise<void> {
  return new Promise((done, fail) => archive.entry(header, (err) => (err ? fail(err) : done())));
}
