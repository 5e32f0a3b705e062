/**
 * One or more configuration files (`.env`, `config.json`, …), each stored
 * under its base name and restored atomically, with an optional check that
 * a JSON or YAML file still parses.
 */
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, extname, join } from 'node:path';
import { Readable } from 'node:stream';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { LiveLocation, RestoreEntry, SourceRestoreOptions, SourceContext, SourceEntry, SourcePlugin } from '../../core/contracts.js';
import { mtimeOf } from '../../core/fs/mtime.js';
import { errnoOf, FailsafeError, isFailsafeError } from '../../core/errors.js';
import { defineSource } from '../../core/sdk/registry.js';
import { restoreFlatFiles } from '../../core/sdk/flat-files.js';

const checkMode = z.enum(['auto', 'json', 'yaml', 'none']);
export type CheckMode = z.infer<typeof checkMode>;

export const configFileOptions = z
  .object({
    path: z.string().min(1).optional(),
    paths: z.array(z.string().min(1)).min(1).optional(),
    check: checkMode.default('auto'),
  })
  .strict()
  .refine((o) => (o.path === undefined) !== (o.paths === undefined), { message: 'give exactly one of path or paths' });
export type ConfigFileOptions = z.infer<typeof configFileOptions>;

/** Parses `file` as its check mode says; rejects with E_CHECK_FAILED naming the file and the reason. */
export async function parseCheck(file: string, mode: CheckMode): Promise<void> {
  const ext = extname(file).toLowerCase();
  const kind = mode === 'auto' ? (ext === '.json' ? 'json' : ext === '.yaml' || ext === '.yml' ? 'yaml' : 'none') : mode;
  if (kind === 'none') return;
  const text = await readFile(file, 'utf8');
  try {
    if (kind === 'json') JSON.parse(text);
    else parseYaml(text);
  } catch (err) {
    throw new FailsafeError(
      'E_CHECK_FAILED',
      `config file ${basename(file)} does not parse as ${kind.toUpperCase()}: ${(err as Error).message.split('\n')[0]}` +
        ` (if the application reads it anyway, e.g. JSON with comments, set \`check: none\` on the source)`,
      { cause: err },
    );
  }
}

export class ConfigFileSource implements SourcePlugin {
  readonly type = 'config-file';
  readonly name: string;
  readonly files: string[];
  readonly #check: CheckMode;

  constructor(options: ConfigFileOptions, name?: string) {
    this.files = options.paths ?? (options.path === undefined ? [] : [options.path]);
    this.name = name ?? basename(this.files[0] ?? 'config');
    this.#check = options.check ?? 'auto';
    const names = this.files.map((f) => basename(f));
    const duplicate = names.find((n, i) => names.indexOf(n) !== i);
    if (duplicate) throw new FailsafeError('E_CONFIG', `source "${this.name}": two files are named ${duplicate}; use separate sources`);
  }

  liveLocations(): LiveLocation[] {
    return this.files.map((file) => ({ archivePath: basename(file), livePath: file, kind: 'file' as const }));
  }

  async *entries(context: SourceContext): AsyncIterable<SourceEntry> {
    for (const file of this.files) {
      // stat, not lstat: config files are often symlinks into a secrets folder; we store the content.
      const info = await stat(file).catch(() => undefined);
      if (!info?.isFile()) {
        throw new FailsafeError('E_SOURCE_MISSING', `source "${this.name}": ${file} ${info ? 'is not a regular file' : 'does not exist'}`);
      }
      await this.#checkParses(file, context);
      yield {
        path: basename(file),
        type: 'file',
        size: info.size,
        mode: info.mode & 0o7777,
        mtime: mtimeOf(info),
        uid: info.uid,
        gid: info.gid,
        open: () => exactly(createReadStream(file), info.size, file, this.name),
        localFile: { path: file, changed: (what) => (what === 'changed' ? undefined : torn(file, this.name)) },
      };
    }
  }

  /**
   * A file its own check rejects backs up anyway (it is what the application has), with a warning now rather than a
   * surprise at restore; the collect stage records a source's warnings in the manifest.
   */
  async #checkParses(file: string, context: SourceContext): Promise<void> {
    await parseCheck(file, this.#check).catch((err: unknown) => {
      if (!isFailsafeError(err, 'E_CHECK_FAILED')) return; // unreadable: the read below reports it
      context.warn(`source "${this.name}": ${err.message}; backed up as it is, but an in-place restore and a drill will refuse it`);
    });
  }

  async restore(entries: AsyncIterable<RestoreEntry>, destination: string, options: SourceRestoreOptions): Promise<number> {
    return restoreFlatFiles(entries, destination, options, `source "${this.name}" holds only plain files`);
  }

  /** Files absent from `restoredPath` were left out by `restore --path`; a full restore's entry count is checked by the core. */
  async check(restoredPath: string): Promise<void> {
    for (const file of this.files) {
      const restored = join(restoredPath, basename(file));
      if (
        await stat(restored).then(
          () => true,
          () => false,
        )
      )
        await parseCheck(restored, this.#check);
    }
  }

  async checkLive(): Promise<void> {
    for (const file of this.files) await parseCheck(file, this.#check);
  }
}

/** A config file read while being rewritten would give a torn copy: fail clearly instead. */
function exactly(stream: Readable, size: number, file: string, source: string): Readable {
  async function* read(): AsyncGenerator<Buffer> {
    let delivered = 0;
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        delivered += chunk.length;
        if (delivered > size) break;
        yield chunk;
      }
    } catch (err) {
      throw new FailsafeError('E_SOURCE_READ', `source "${source}": cannot read ${file}: ${errnoOf(err) ?? err}`, { cause: err });
    }
    if (delivered !== size) torn(file, source);
  }
  return Readable.from(read(), { objectMode: false });
}

function torn(file: string, source: string): never {
  throw new FailsafeError('E_SOURCE_CHANGED', `source "${source}": ${file} changed while being read; run the backup again`);
}

export const configFileSource = defineSource({
  type: 'config-file',
  optionsSchema: configFileOptions,
  defaultName: (options: ConfigFileOptions) => basename(options.path ?? options.paths?.[0] ?? 'config'),
  create: (options: ConfigFileOptions, name: string) => new ConfigFileSource(options, name),
});
