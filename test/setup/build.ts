/**
 * Vitest's global setup: compiles the sources to dist/ before any test runs.
 * Worker threads load their compiled entry files (core/threads/worker-file.ts)
 * and a few tests load dist/ on purpose, so a stale dist/ would test old code
 * while the test file itself runs the new one.
 *
 * The build is incremental, and skipped when no source is newer than its
 * compiled file or than the last build made here: a rerun with nothing
 * changed costs a walk of the source folders. tsc's incremental state lives
 * outside dist/ (which is published), so this file checks itself that dist/
 * is still what that state describes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const dist = join(root, 'dist');
const cache = join(root, 'node_modules', '.cache', 'failsafe-build');
const buildInfo = join(cache, 'tsbuildinfo');
/** When the last build here started reading the sources and when it finished writing dist/ (ms). */
const lastBuild = join(cache, 'last-build.json');
const configs = ['tsconfig.json', 'tsconfig.build.json'].map((name) => join(root, name));
/** File times come from a coarse kernel clock; a margin keeps "saved during the build" on the safe side. */
const CLOCK_MARGIN_MS = 1000;

interface LastBuild {
  start: number;
  end: number;
}

interface Source {
  mtime: number;
  /** Its compiled file's mtime, undefined when there is none. */
  output: number | undefined;
}

const mtimeOf = (path: string): number | undefined => (existsSync(path) ? statSync(path).mtimeMs : undefined);

function* typeScriptFiles(path: string): Generator<string> {
  if (!existsSync(path)) return;
  if (!statSync(path).isDirectory()) {
    if (path.endsWith('.ts') && !path.endsWith('.d.ts')) yield path;
    return;
  }
  for (const entry of readdirSync(path)) yield* typeScriptFiles(join(path, entry));
}

/** The files tsconfig.build.json compiles, with their compiled files' times. */
function sources(): Source[] {
  const { include } = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
  return include
    .flatMap((entry) => [...typeScriptFiles(join(root, entry))])
    .map((file) => ({ mtime: statSync(file).mtimeMs, output: mtimeOf(join(dist, relative(root, file).replace(/\.ts$/, '.js'))) }));
}

function isFresh(files: Source[], stamp: number): boolean {
  const oldestOutput = Math.min(...files.map((f) => f.output ?? 0));
  const configsSeen = configs.every((config) => (mtimeOf(config) ?? 0) <= Math.max(stamp, oldestOutput));
  return configsSeen && files.every((f) => f.output !== undefined && f.mtime <= Math.max(f.output, stamp));
}

function compile(): void {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const run = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--incremental', '--tsBuildInfoFile', buildInfo], { cwd: root, encoding: 'utf8' });
  const output = `${run.stdout}${run.stderr}`.trim();
  // tsc exits 2 when it reports type errors but still wrote every file: the tests run
  // what the sources say; the type-check (`npm run typecheck`) is where those errors fail.
  if (run.status === 2) console.warn(`The build reported type errors; the tests run the emitted code:\n${output}`);
  else if (run.status !== 0) throw new Error(`The build failed (tsc exit ${run.status ?? run.signal}):\n${output}`);
}

function readLastBuild(): LastBuild | undefined {
  if (!existsSync(buildInfo) || !existsSync(lastBuild)) return undefined;
  return JSON.parse(readFileSync(lastBuild, 'utf8')) as LastBuild;
}

export default function setup(): void {
  const last = readLastBuild();
  const files = sources();
  if (isFresh(files, last?.start ?? 0)) return;
  // The incremental state describes dist/ only if nothing else (a plain `npm run build`,
  // a deleted file) changed dist/ since; otherwise tsc would skip files it thinks it wrote.
  const full = !last || files.some((f) => f.output === undefined || f.output > last.end);
  if (full) rmSync(buildInfo, { force: true });
  rmSync(lastBuild, { force: true });
  mkdirSync(cache, { recursive: true });
  const start = Date.now() - CLOCK_MARGIN_MS;
  compile();
  console.log(`dist/ rebuilt (${full ? 'full' : 'incremental'} build) in ${((Date.now() - start - CLOCK_MARGIN_MS) / 1000).toFixed(1)} s`);
  // A source saved while tsc ran may not be in dist/: `start` makes the next run look again.
  writeFileSync(lastBuild, JSON.stringify({ start, end: Date.now() } satisfies LastBuild));
}
