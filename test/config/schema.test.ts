import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { builtinRegistry } from '../../api/builtins.js';
import { buildJsonSchema } from '../../core/config/schema.js';

const root = join(import.meta.dirname, '..', '..');

describe('the JSON Schema for editors', () => {
  it('is committed and current (regenerate with npm run build && npm run schema)', async () => {
    const committed = JSON.parse(await readFile(join(root, 'failsafe.schema.json'), 'utf8'));
    expect(committed).toEqual(JSON.parse(JSON.stringify(buildJsonSchema(builtinRegistry()))));
  });

  it('accepts the quick start and a plugin type, and flags a typo in a built-in type', async () => {
    const validate = new Ajv2020({ strict: false }).compile(buildJsonSchema(builtinRegistry()));
    const quickstart = parse(await readFile(join(root, 'examples', 'quickstart', 'failsafe.yaml'), 'utf8'));
    expect(validate(quickstart), JSON.stringify(validate.errors)).toBe(true);
    const withPlugin = structuredClone(quickstart);
    withPlugin.jobs.planter.sources.push({ type: 'my-plugin', anything: 1 });
    expect(validate(withPlugin)).toBe(true);
    const typo = structuredClone(quickstart);
    typo.jobs.planter.sources[0].exlude = ['*.tmp'];
    expect(validate(typo)).toBe(false);
    const badTarget = structuredClone(quickstart);
    badTarget.targets.local.requireMount = 'yes';
    expect(validate(badTarget)).toBe(false);
  });
});
