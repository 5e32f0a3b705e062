// Runs the CLI in this process and reports its peak RSS on stderr, for the benchmarks.
import { main } from '../dist/cli/main.js';

const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, env: process.env });
process.stderr.write(`BENCH maxRssKiB=${process.resourceUsage().maxRSS}\n`);
process.exitCode = code;
