import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_ALIASES, ERROR_CODES } from '../../core/errors.js';

const root = join(import.meta.dirname, '..', '..');
const SOURCE_FOLDERS = ['api', 'core', 'adapters', 'plugins', 'cli'];

async function readAll(folders: string[], isWanted: (file: string) => boolean): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  for (const folder of folders) {
    for (const file of await readdir(join(root, folder), { recursive: true })) {
      if (isWanted(file)) texts.set(join(folder, file), await readFile(join(root, folder, file), 'utf8'));
    }
  }
  return texts;
}

/** `file: CODE` for each match of `pattern` (its group 2 is the code) whose code fails `isKnown`. */
function unknownCodes(texts: Map<string, string>, pattern: RegExp, isKnown: (code: string) => boolean): string[] {
  return [...texts].flatMap(([file, text]) =>
    [...text.matchAll(pattern)]
      .map((m) => m[2]!)
      .filter((code) => !isKnown(code))
      .map((code) => `${file}: ${code}`),
  );
}

const known = (code: string): boolean => Object.hasOwn(ERROR_CODES, code);
const knownOrAlias = (code: string): boolean => known(code) || Object.hasOwn(ERROR_ALIASES, code);

describe('docs/errors.md', () => {
  it('documents every error code with the exit status the CLI gives it, and no other', async () => {
    const doc = await readFile(join(root, 'docs', 'errors.md'), 'utf8');
    const documented = Object.fromEntries([...doc.matchAll(/^\| `(E_[A-Z_]+)` \| (\d) \|/gm)].map((m) => [m[1], Number(m[2])]));
    expect(documented).toEqual({ ...ERROR_CODES });
  });

  it('documents every alias with the code it stands for, and no other', async () => {
    const doc = await readFile(join(root, 'docs', 'errors.md'), 'utf8');
    const aliases = Object.fromEntries([...doc.matchAll(/^\| `(E_[A-Z_]+)` \| `(E_[A-Z_]+)` \|/gm)].map((m) => [m[1], m[2]]));
    expect(aliases).toEqual({ ...ERROR_ALIASES });
    for (const code of Object.values(ERROR_ALIASES)) expect(known(code)).toBe(true);
  });

  it('knows every code the source throws or names: a string literal is a registered code', async () => {
    const sources = await readAll(SOURCE_FOLDERS, (file) => file.endsWith('.ts') && !file.endsWith('.d.ts'));
    const literal = /(['"`])(E_[A-Z][A-Z0-9_]*)\1/g;
    // The scan must see the code's throws, or it proves nothing.
    const thrown = [...sources.values()].flatMap((text) => [...text.matchAll(/new FailsafeError\((['"`])(E_[A-Z][A-Z0-9_]*)\1/g)]);
    expect(thrown.length).toBeGreaterThan(100);
    expect(unknownCodes(sources, literal, known)).toEqual([]);
  });

  it('names no code, in a comment, a message or the docs, that does not exist', async () => {
    const texts = new Map([
      ...(await readAll(SOURCE_FOLDERS, (file) => file.endsWith('.ts'))),
      ...(await readAll(['docs', 'examples'], (file) => /\.(md|js|ts|ya?ml)$/.test(file))),
      ['README.md', await readFile(join(root, 'README.md'), 'utf8')],
    ]);
    expect(unknownCodes(texts, /(\b)(E_[A-Z][A-Z0-9_]*[A-Z0-9])\b/g, knownOrAlias)).toEqual([]);
  });
});
