#!/usr/bin/env node
// Writes docs/failsafe.1, the man page, from the command definitions behind `failsafe --help`.
// Run after `npm run build`; test/cli/man-page.test.ts fails when it is stale.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { defineProgram } from '../dist/cli/main.js';
import { commandTree } from '../dist/cli/command-tree.js';
import { manPage } from '../dist/cli/man-page.js';
import { VERSION } from '../dist/core/version.js';

const program = defineProgram({ stdout: process.stdout, stderr: process.stderr, env: process.env });
const out = join(import.meta.dirname, '..', 'docs', 'failsafe.1');
await writeFile(out, manPage(commandTree(program), { version: VERSION, description: program.description() }));
console.log(`wrote ${out}`);
