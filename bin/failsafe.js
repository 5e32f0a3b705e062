#!/usr/bin/env node
// Runs the compiled CLI (built by `npm ci`/`npm install` through the prepare script).
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
