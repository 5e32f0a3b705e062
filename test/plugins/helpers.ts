/** Runs a source's backup side and feeds its entries straight into a restore, as the core does through an archive. */
import { Readable } from 'node:stream';
import type { RestoreEntry, SourceContext, SourceEntry, SourcePlugin } from '../../core/contracts.js';

export function context(): SourceContext & { warnings: string[] } {
  const warnings: string[] = [];
  return { warnings, warn: (m) => warnings.push(m) };
}

export async function collectEntries(source: SourcePlugin, ctx = context()): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  for await (const entry of source.entries(ctx)) out.push(entry);
  return out;
}

export async function readEntry(entry: SourceEntry): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of entry.open!()) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Restore entries from plain descriptions (content as a string), for hostile-archive cases. */
export async function* restoreEntries(
  items: (Omit<RestoreEntry, 'body' | 'content' | 'size' | 'mode' | 'mtime'> & { content?: string; mode?: number; mtime?: Date })[],
): AsyncGenerator<RestoreEntry> {
  for (const item of items) {
    const content = item.content === undefined ? undefined : Buffer.from(item.content);
    yield {
      path: item.path,
      type: item.type,
      size: content?.length ?? 0,
      mode: item.mode ?? (item.type === 'directory' ? 0o755 : 0o644),
      mtime: item.mtime ?? new Date('2024-01-02T03:04:05Z'),
      ...(item.linkTarget === undefined ? {} : { linkTarget: item.linkTarget }),
      ...(content === undefined ? {} : { body: Readable.from([content]) }),
    };
  }
}

/** Backup entries of `source` as restore entries, bodies read from the live files. */
export async function* roundTrip(source: SourcePlugin): AsyncGenerator<RestoreEntry> {
  for (const entry of await collectEntries(source)) {
    const { open, localFile: _local, ...rest } = entry;
    yield { ...rest, ...(open ? { body: open() } : {}) };
  }
}
