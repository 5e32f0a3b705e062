#!/bin/sh
':' //; export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-1}"; case " $NODE_OPTIONS" in *semi-space*) exec node "$0" "$@";; *) exec node --max-semi-space-size=1 "$0" "$@";; esac
// Run as a program this file is a shell script for its first two lines: they start node on
// this same file with a smaller young generation and one malloc arena (what is left of line 2
// is a comment to JavaScript). V8 grows its young generation to 32 MB under a backup's or a
// restore's allocation rate; held at 2 MB, a run's peak memory is 25-30 MB lower and no slower.
// glibc gives each thread (main, segment workers, thread pool) an arena of its own, and memory
// freed in one stays there: one arena takes another 6-12 MB off, no slower (docs/performance.md). A flag
// for the heap can only be given on node's command line, and glibc reads its variable when the
// process starts, hence the launcher; a --max-semi-space-size already in NODE_OPTIONS, or a
// MALLOC_ARENA_MAX already set, is left to rule.
// `node bin/failsafe.js` runs the same program without the flag.

import { setFlagsFromString } from 'node:v8';

// V8 optimizes a function once it has run ~66 KB of bytecode: in a run of a second (an unchanged
// backup, `list`, `status`) that is hundreds of functions of the start-up and the walk compiled on
// helper threads for nothing, a quarter of the run's CPU. Fifteen times that budget still
// optimizes what runs long (chunking, hashing) within milliseconds. Set before the CLI's modules
// load, so their functions count against it; the worker threads share the flag
// (docs/performance.md, twelfth measurement).
setFlagsFromString('--interrupt-budget=1000000');

// Runs the compiled CLI (built by `npm ci`/`npm install` through the prepare script).
const { main } = await import('../dist/cli/main.js');

// On Node.js 20 the AWS SDK warns on every run that its releases after January 2027 need
// Node.js 22. Failsafe pins the SDK's version, so that is a notice for us, not for each backup
// run from cron; it can still be turned on by setting the variable to anything else.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
