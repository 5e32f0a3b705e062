/**
 * Times outside what a ustar header holds (before 1970, from 2038-01-19 on)
 * go into a PAX `mtime` record, to the millisecond, with a ustar field any
 * reader accepts: Python's tarfile (and GNU tar) read every entry with its
 * exact time, instead of stopping or wrapping; busybox tar, which reads no
 * PAX time, extracts every entry with the time at the range's edge. Times inside the range stay
 * byte for byte as tar-stream writes them (test/core/collect.test.ts).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { encodeHeader, paddingOf, type TarHeader } from '../../core/pipeline/tar-header.js';

const ENTRIES: (TarHeader & { body?: string })[] = [
  { name: 'src/old.txt', type: 'file', size: 3, mode: 0o644, mtime: new Date('1960-01-01T00:00:00.250Z'), body: 'old' },
  { name: 'src/just-before-1970', type: 'file', size: 1, mode: 0o644, mtime: new Date('1969-12-31T23:59:59.999Z'), body: 'x' },
  { name: 'src/ünïcode-1950', type: 'file', size: 2, mode: 0o644, mtime: new Date('1950-06-15T12:00:00.001Z'), body: 'ü' },
  { name: 'src/y2038', type: 'file', size: 4, mode: 0o644, mtime: new Date('2038-01-19T03:14:08.000Z'), body: '2038' },
  { name: 'src/later', type: 'directory', size: 0, mode: 0o755, mtime: new Date('2100-01-01T00:00:00.123Z') },
  { name: 'src/later/link', type: 'symlink', size: 0, mode: 0o777, mtime: new Date('2300-01-01T00:00:00Z'), linkname: '../old.txt' },
  { name: 'src/now.txt', type: 'file', size: 3, mode: 0o644, mtime: new Date('2026-12-01T10:00:00.500Z'), body: 'now' },
];

function stream(): Buffer {
  const parts: Buffer[] = [];
  for (const { body, ...header } of ENTRIES) {
    parts.push(encodeHeader(header));
    if (header.type === 'file') parts.push(Buffer.from(body ?? ''), Buffer.alloc(paddingOf(header.size)));
  }
  return Buffer.concat([...parts, Buffer.alloc(1024)]);
}

/** Python's tarfile, as a user without Failsafe would read the stream: each member's name, time, type and bytes. */
const PYTHON = `
import json, sys, tarfile
out = []
with tarfile.open(sys.argv[1], errorlevel=2) as t:
    for m in t:
        body = t.extractfile(m).read().decode() if m.isfile() else None
        out.append({"name": m.name, "mtime": m.mtime, "type": m.type.decode(), "body": body, "link": m.linkname})
print(json.dumps(out))
`;

describe('tar times outside the ustar range', () => {
  it("Python's tarfile reads every entry, each time outside ustar's range exact to the millisecond", async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'failsafe-tar-times-')), 'stream.tar');
    await writeFile(file, stream());
    const { stdout } = await promisify(execFile)('python3', ['-c', PYTHON, file]);
    const members = JSON.parse(stdout) as { name: string; mtime: number; body: string | null; link: string }[];
    expect(members.map((m) => m.name)).toEqual(ENTRIES.map((e) => e.name));
    members.forEach((m, i) => {
      const entry = ENTRIES[i]!;
      const ms = entry.mtime.getTime();
      // ustar holds whole seconds (Failsafe restores times from the manifest); a PAX time is to the millisecond.
      const pax = ms < 0 || ms >= 2 ** 31 * 1000;
      expect(Math.round(m.mtime * 1000), entry.name).toBe(pax ? ms : Math.floor(ms / 1000) * 1000);
      if (entry.type === 'file') expect(m.body).toBe(entry.body);
      if (entry.linkname) expect(m.link).toBe(entry.linkname);
    });
  });

  it('GNU tar lists every entry without a complaint', async () => {
    const file = join(await mkdtemp(join(tmpdir(), 'failsafe-tar-times-')), 'stream.tar');
    await writeFile(file, stream());
    const { stdout, stderr } = await promisify(execFile)('tar', ['-tvf', file], { env: { ...process.env, TZ: 'UTC', LC_ALL: 'C.UTF-8' } });
    expect(stderr).toBe('');
    expect(stdout).toContain('1960-01-01 00:00 src/old.txt');
    expect(stdout).toContain('2100-01-01 00:00 src/later');
    expect(stdout.trimEnd().split('\n')).toHaveLength(ENTRIES.length);
  });

  it('busybox tar extracts every entry; it reads no PAX time, so one outside the range comes back at its edge', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'failsafe-tar-times-'));
    await writeFile(join(dir, 'stream.tar'), stream());
    const { stderr } = await promisify(execFile)('busybox', ['tar', '-xf', 'stream.tar'], { cwd: dir }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'ENOENT' ? new Error('no busybox on PATH: .ci/run installs Debian\'s "busybox"') : err;
    });
    expect(stderr).toBe('');
    const USTAR_MAX_S = 8 ** 11 - 1;
    for (const entry of ENTRIES) {
      const path = join(dir, entry.name);
      if (entry.type === 'file') expect(await readFile(path, 'utf8'), entry.name).toBe(entry.body);
      if (entry.type === 'symlink') expect(await readlink(path)).toBe(entry.linkname);
      if (entry.type !== 'file') continue;
      const seconds = Math.floor(entry.mtime.getTime() / 1000);
      expect((await stat(path)).mtimeMs / 1000, entry.name).toBe(Math.min(Math.max(seconds, 0), USTAR_MAX_S));
    }
  });
});
