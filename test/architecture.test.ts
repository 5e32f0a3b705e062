/**
 * The architecture as checks any reviewer can rerun (docs/architecture.md):
 * the layering rules of .dependency-cruiser.cjs (no import cycle, core/ imports
 * no adapter, plugin, facade or CLI), and source files a reader can hold in
 * their head (the 300 lines ESLint's max-lines allows).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const LAYERS = ['api', 'core', 'adapters', 'plugins', 'cli', 'ui'];
const MAX_LINES = 300;

/** Lines as ESLint's max-lines counts them: a final line break does not start a line. */
function lineCount(text: string): number {
  const lines = text.split(/\r\n|[\r\n\u2028\u2029]/);
  return lines.length > 1 && lines.at(-1) === '' ? lines.length - 1 : lines.length;
}

async function sourceFiles(): Promise<string[]> {
  const all = await Promise.all(LAYERS.map((layer) => readdir(join(root, layer), { recursive: true })));
  return all.flatMap((names, i) => names.filter((name) => name.endsWith('.ts')).map((name) => join(LAYERS[i]!, name)));
}

describe('architecture', () => {
  it('keeps the layering rules of .dependency-cruiser.cjs, with no import cycle', async () => {
    const options = await extractDepcruiseOptions(join(root, '.dependency-cruiser.cjs'));
    const tsConfig = extractTSConfig(join(root, 'tsconfig.json'));
    const { output } = await cruise(LAYERS, { ...options, baseDir: root }, {}, { tsConfig });
    // A cycle reads as its loop (a → b → a); any other rule as the import it forbids.
    const violations = (output as ICruiseResult).summary.violations.map(
      (v) => `${v.rule.name}: ${[v.from, ...(v.cycle?.map((step) => step.name) ?? [v.to])].join(' → ')}`,
    );
    expect(violations, `layering violations:\n${violations.join('\n')}`).toEqual([]);
  });

  it(`has no source file over ${MAX_LINES} lines`, async () => {
    const counted = await Promise.all((await sourceFiles()).map(async (file) => ({ file, lines: lineCount(await readFile(join(root, file), 'utf8')) })));
    const offenders = counted.filter((c) => c.lines > MAX_LINES).map((c) => `${c.file}: ${c.lines} lines`);
    expect(offenders, `files over ${MAX_LINES} lines:\n${offenders.join('\n')}`).toEqual([]);
  });
});
