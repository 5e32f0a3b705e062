// A source plugin written against Failsafe's plugin SDK: the Markdown notes
// (`*.md`) at the top of a folder, each restored atomically. Nested folders
// and other files are left out.
//
//   plugins: [./plugins/notes-source.js]
//   jobs: { notes: { sources: [{ type: notes, path: ./notes }], targets: [disk] } }
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { defineSource, FailsafeError, mtimeOf, restoreFlatFiles, z } from 'failsafe';

export class NotesSource {
  type = 'notes';

  constructor({ path }, name) {
    this.path = path;
    this.name = name;
  }

  liveLocations() {
    // The archive's root ('') is the folder: an in-place restore swaps the whole folder.
    return [{ archivePath: '', livePath: this.path, kind: 'directory' }];
  }

  async *entries() {
    const names = await readdir(this.path).catch((err) => {
      throw new FailsafeError(err.code === 'ENOENT' ? 'E_SOURCE_MISSING' : 'E_SOURCE_READ', `source "${this.name}": cannot read ${this.path} (${err.code})`);
    });
    for (const name of names.filter((n) => n.endsWith('.md')).sort()) {
      const file = join(this.path, name);
      const info = await stat(file);
      if (!info.isFile()) continue;
      yield { path: name, type: 'file', size: info.size, mode: info.mode & 0o7777, mtime: mtimeOf(info), open: () => createReadStream(file) };
    }
  }

  async restore(entries, destination, options) {
    return restoreFlatFiles(entries, destination, options, `source "${this.name}" holds only notes`);
  }

  async check(restoredPath) {
    for (const name of await readdir(restoredPath)) {
      if (!name.endsWith('.md')) throw new FailsafeError('E_CHECK_FAILED', `source "${this.name}": ${name} is not a note`);
    }
  }
}

export default defineSource({
  type: 'notes',
  optionsSchema: z.object({ path: z.string().min(1) }).strict(),
  defaultName: (options) => basename(options.path),
  create: (options, name) => new NotesSource(options, name),
});
