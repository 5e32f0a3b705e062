/**
 * The source conformance suite: what the core relies on from a source plugin
 * (core/contracts.ts), checked without the rest of the pipeline. Entries are
 * safe relative paths, parents first, each file's stream gives exactly its
 * announced size; what `restore` writes from those entries reads back the
 * same, passes the plugin's own `check`, and a hostile entry (`..`, an
 * absolute path) is refused with E_UNSAFE_PATH without writing outside.
 *
 *   testSourcePlugin('notes', { create: async () => notes.create({ path: await makeFixture() }, 'notes') });
 */
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { RestoreEntry, SourceContext, SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { FailsafeError } from '../../core/errors.js';
import { normalizeArchivePath } from '../../core/fs/paths.js';

export interface SourceSuiteOptions {
  /** A source over fresh data holding at least one file. */
  create(): Promise<SourcePlugin>;
  /** Removes that data after each test. */
  destroy?(source: SourcePlugin): Promise<void>;
}

const sha = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Runs prepare, collects every entry with its bytes, and always runs cleanup. */
async function backupSide(source: SourcePlugin): Promise<{ entry: SourceEntry; data?: Buffer }[]> {
  const warnings: string[] = [];
  const context: SourceContext = { warn: (m) => warnings.push(m) };
  const out: { entry: SourceEntry; data?: Buffer }[] = [];
  try {
    await source.prepare?.(context);
    for await (const entry of source.entries(context)) out.push({ entry, ...(entry.type === 'file' ? { data: await readAll(entry.open!()) } : {}) });
  } finally {
    await source.cleanup?.();
  }
  return out;
}

async function* asRestoreEntries(items: { entry: SourceEntry; data?: Buffer }[]): AsyncGenerator<RestoreEntry> {
  for (const { entry, data } of items) {
    const { open: _open, ...header } = entry;
    yield { ...header, ...(data ? { body: Readable.from([data]) } : {}) };
  }
}

export function testSourcePlugin(name: string, options: SourceSuiteOptions): void {
  describe(`source conformance: ${name}`, () => {
    const withSource = async (test: (source: SourcePlugin) => Promise<void>): Promise<void> => {
      const source = await options.create();
      try {
        await test(source);
      } finally {
        await options.destroy?.(source);
      }
    };

    it('has a type and a name that is one path segment', async () =>
      withSource(async (source) => {
        expect(typeof source.type).toBe('string');
        expect(source.name).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/);
      }));

    it('yields safe relative paths, parents before children, files with exactly their announced bytes', async () =>
      withSource(async (source) => {
        const items = await backupSide(source);
        expect(items.some((i) => i.entry.type === 'file')).toBe(true);
        const seen = new Set<string>();
        for (const { entry, data } of items) {
          expect(normalizeArchivePath(entry.path)).toBe(entry.path);
          const parent = entry.path.split('/').slice(0, -1).join('/');
          if (parent && items.some((i) => i.entry.path === parent)) expect(seen.has(parent)).toBe(true);
          seen.add(entry.path);
          expect(entry.mtime).toBeInstanceOf(Date);
          expect(Number.isInteger(entry.mode)).toBe(true);
          if (entry.type === 'file') expect(data!.length).toBe(entry.size);
        }
      }));

    it('restores what it backed up, byte for byte, and its check accepts the result', async () =>
      withSource(async (source) => {
        const items = await backupSide(source);
        const destination = await mkdtemp(join(tmpdir(), 'failsafe-source-suite-'));
        try {
          const count = await source.restore(asRestoreEntries(items), destination, { warn: () => undefined });
          expect(count).toBe(items.length);
          for (const { entry, data } of items.filter((i) => i.entry.type === 'file')) {
            expect(sha(await readFile(join(destination, entry.path)))).toBe(sha(data!));
          }
          await source.check?.(destination);
        } finally {
          await rm(destination, { recursive: true, force: true });
        }
      }));

    for (const hostile of ['../escape.txt', '/etc/escape.txt']) {
      it(`refuses the entry "${hostile}" with E_UNSAFE_PATH and writes nothing outside`, async () =>
        withSource(async (source) => {
          const root = await mkdtemp(join(tmpdir(), 'failsafe-source-suite-'));
          const destination = join(root, 'inside');
          try {
            const entry: RestoreEntry = { path: hostile, type: 'file', size: 3, mode: 0o644, mtime: new Date(), body: Readable.from([Buffer.from('bad')]) };
            const err = await source
              .restore(
                (async function* () {
                  yield entry;
                })(),
                destination,
                { warn: () => undefined },
              )
              .then(
                () => undefined,
                (e: unknown) => e,
              );
            expect(err).toBeInstanceOf(FailsafeError);
            expect((err as FailsafeError).code).toBe('E_UNSAFE_PATH');
            expect((await readdir(root)).filter((n) => n !== 'inside')).toEqual([]);
          } finally {
            await rm(root, { recursive: true, force: true });
          }
        }));
    }
  });
}
