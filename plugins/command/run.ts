/**
 * Running a dump or restore command as a child process: its stdout or stdin
 * streamed with backpressure, stderr kept only as a bounded tail for the
 * error message, a timeout and an AbortSignal that kill it.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { errnoOf } from '../../core/errors.js';

/** An argv array (run directly) or a string (run with `sh -c`). */
export type CommandLine = string | string[];

export interface RunOptions {
  env?: Record<string, string>;
  cwd?: string;
  /** Kill the command after this long; 0 or absent: no limit. */
  timeoutMs?: number;
  signal?: AbortSignal;
  /** The command's stdout is piped into this. */
  stdout?: Writable;
  /** Piped into the command's stdin. */
  stdin?: Readable;
}

export type RunResult =
  | { ok: true }
  | { ok: false; reason: 'exit'; code: number | null; signal: NodeJS.Signals | null; stderr: string }
  | { ok: false; reason: 'timeout' | 'spawn'; detail: string; stderr: string };

const STDERR_TAIL = 4096;

export function commandText(command: CommandLine): string {
  return typeof command === 'string' ? command : command.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`)).join(' ');
}

/** The program's base name, for messages and default source names. */
export function programName(command: CommandLine): string {
  const first = typeof command === 'string' ? (command.trim().split(/\s+/)[0] ?? 'command') : (command[0] ?? 'command');
  return first.split('/').pop() || 'command';
}

/**
 * Runs `command` to completion. Resolves with how it ended (never rejects for
 * the command's own failure); rejects with the abort reason when `signal` fires.
 */
export async function runCommand(command: CommandLine, options: RunOptions): Promise<RunResult> {
  const [file, args] = typeof command === 'string' ? ['/bin/sh', ['-c', command]] : [command[0]!, command.slice(1)];
  const timeout = options.timeoutMs ? AbortSignal.timeout(options.timeoutMs) : undefined;
  const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined);
  const child = spawn(file, args, {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: [options.stdin ? 'pipe' : 'ignore', options.stdout ? 'pipe' : 'ignore', 'pipe'],
    ...(signals.length > 0 ? { signal: AbortSignal.any(signals), killSignal: 'SIGKILL' as const } : {}),
  });
  let stderr = Buffer.alloc(0);
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr = Buffer.concat([stderr, chunk]);
    if (stderr.length > STDERR_TAIL) stderr = stderr.subarray(stderr.length - STDERR_TAIL);
  });
  const exited = once(child, 'close') as Promise<[number | null, NodeJS.Signals | null]>;
  exited.catch(() => undefined);
  const streams: Promise<void>[] = [];
  // A command that exits without reading all its input closes the pipe: that is the command's business, not an error here.
  const closedEarly = new Set(['EPIPE', 'ECONNRESET', 'ERR_STREAM_PREMATURE_CLOSE']);
  if (options.stdin)
    streams.push(pipeline(options.stdin, child.stdin!).catch((err: unknown) => (closedEarly.has(errnoOf(err) ?? '') ? undefined : Promise.reject(err))));
  if (options.stdout) streams.push(pipeline(child.stdout!, options.stdout));
  try {
    const [[code, signal]] = await Promise.all([exited, ...streams]);
    if (code === 0) return { ok: true };
    return { ok: false, reason: 'exit', code, signal, stderr: tailLine(stderr) };
  } catch (err) {
    if (!child.killed && child.exitCode === null) child.kill('SIGKILL');
    if (options.signal?.aborted) throw options.signal.reason;
    if (timeout?.aborted) return { ok: false, reason: 'timeout', detail: `timed out after ${options.timeoutMs} ms`, stderr: tailLine(stderr) };
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT' && e.syscall?.startsWith('spawn'))
      return { ok: false, reason: 'spawn', detail: 'was not found (is it installed and on PATH?)', stderr: '' };
    return { ok: false, reason: 'spawn', detail: e.message.split('\n')[0] ?? String(err), stderr: tailLine(stderr) };
  }
}

/** How a failed run ended, as one line: `exited with code 1: <last stderr lines>`. */
export function describeFailure(result: Exclude<RunResult, { ok: true }>): string {
  const how = result.reason === 'exit' ? (result.signal ? `was killed by ${result.signal}` : `exited with code ${result.code}`) : result.detail;
  return result.stderr ? `${how}: ${result.stderr}` : how;
}

/** The last few non-empty stderr lines on one line, at most 300 characters. */
function tailLine(stderr: Buffer): string {
  const lines = stderr
    .toString('utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-3);
  const text = lines.join(' | ');
  return text.length > 300 ? `…${text.slice(-299)}` : text;
}
