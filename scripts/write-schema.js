#!/usr/bin/env node
// Writes failsafe.schema.json (the JSON Schema editors use for failsafe.yaml)
// from the zod schemas of the core and of every built-in source and target.
// Run after `npm run build`; test/config/schema.test.ts fails when it is stale.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { builtinRegistry } from '../dist/api/builtins.js';
import { buildJsonSchema } from '../dist/core/config/schema.js';

const out = join(import.meta.dirname, '..', 'failsafe.schema.json');
await writeFile(out, `${JSON.stringify(buildJsonSchema(builtinRegistry()), null, 2)}\n`);
console.log(`wrote ${out}`);
