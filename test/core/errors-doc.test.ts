import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../core/errors.js';

describe('docs/errors.md', () => {
  it('documents every error code with the exit status the CLI gives it, and no other', async () => {
    const doc = await readFile(join(import.meta.dirname, '..', '..', 'docs', 'errors.md'), 'utf8');
    const documented = Object.fromEntries([...doc.matchAll(/^\| `(E_[A-Z_]+)` \| (\d) \|/gm)].map((m) => [m[1], Number(m[2])]));
    expect(documented).toEqual({ ...ERROR_CODES });
  });
});
