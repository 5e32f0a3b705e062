#!/usr/bin/env node
// Runs the compiled CLI (built by `npm ci`/`npm install` through the prepare script).
import { main } from '../dist/cli/main.js';

// On Node.js 20 the AWS SDK warns on every run that its releases after January 2027 need
// Node.js 22. Failsafe pins the SDK's version, so that is a notice for us, not for each backup
// run from cron; it can still be turned on by setting the variable to anything else.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const code = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
process.exitCode = code;
