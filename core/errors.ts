/**
 * One error class for everything Failsafe raises on purpose. The `code` is a
 * stable contract (scripts and the CLI's exit status depend on it); messages
 * may improve between releases. The original error, if any, is kept as `cause`.
 */

/** Exit statuses of the CLI, also documented in docs/errors.md. */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  integrity: 3,
  partial: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** Every stable code, with the exit status the CLI uses for it. */
export const ERROR_CODES = {
  // bad usage or configuration (exit 2)
  E_USAGE: ExitCode.usage,
  E_CONFIG: ExitCode.usage,
  E_CONFIG_ENV: ExitCode.usage,
  E_UNKNOWN_TYPE: ExitCode.usage,
  E_UNKNOWN_TARGET: ExitCode.usage,
  E_UNKNOWN_JOB: ExitCode.usage,
  E_PLUGIN_LOAD: ExitCode.usage,
  E_KEY_MISSING: ExitCode.usage,
  E_INVALID_KEY: ExitCode.usage,
  // an operation failed (exit 1)
  E_NOT_FOUND: ExitCode.failed,
  E_SNAPSHOT_NOT_FOUND: ExitCode.failed,
  E_SOURCE_MISSING: ExitCode.failed,
  E_SOURCE_READ: ExitCode.failed,
  E_SOURCE_CHANGED: ExitCode.failed,
  E_STORAGE: ExitCode.failed,
  E_NOT_MOUNTED: ExitCode.failed,
  E_PERMISSION: ExitCode.failed,
  E_AUTH: ExitCode.failed,
  E_TARGET_NOT_FOUND: ExitCode.failed,
  E_BUCKET_NOT_FOUND: ExitCode.failed,
  E_UNREACHABLE: ExitCode.failed,
  E_RESTORE: ExitCode.failed,
  E_RESTORE_UNSETTLED: ExitCode.failed,
  E_NO_SPACE: ExitCode.failed,
  E_CHECK_FAILED: ExitCode.failed,
  E_ABORTED: ExitCode.failed,
  E_EXISTS: ExitCode.failed,
  E_DB_BUSY: ExitCode.failed,
  E_SOURCE_CORRUPT: ExitCode.failed,
  E_HOOK: ExitCode.failed,
  E_LOCKED: ExitCode.failed,
  E_INTERNAL: ExitCode.failed,
  E_DEPENDENCY: ExitCode.failed,
  // refused by the web dashboard (HTTP 401, 403, 429; docs/ui.md)
  E_UI_LOGIN: ExitCode.failed,
  E_UI_CSRF: ExitCode.failed,
  E_UI_RATE_LIMIT: ExitCode.failed,
  // integrity (exit 3)
  E_CHECKSUM: ExitCode.integrity,
  E_WRONG_KEY: ExitCode.integrity,
  E_CORRUPT: ExitCode.integrity,
  E_UNSAFE_PATH: ExitCode.integrity,
  E_UNSIGNED: ExitCode.integrity,
  E_UNTRUSTED: ExitCode.integrity,
  E_ROLLBACK: ExitCode.integrity,
  E_UNSUPPORTED_FORMAT: ExitCode.integrity,
  E_HOST_KEY: ExitCode.integrity,
  // some targets failed, others succeeded (exit 4)
  E_PARTIAL: ExitCode.partial,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/**
 * Other names of a code, matched by isFailsafeError in both directions so that
 * scripts written against them keep working (docs/errors.md, "Aliases").
 * S3 targets still report E_BUCKET_NOT_FOUND; E_UNEXPECTED is what the CLI,
 * the onError hook and resume records said before E_INTERNAL took its place.
 */
export const ERROR_ALIASES = {
  E_BUCKET_NOT_FOUND: 'E_TARGET_NOT_FOUND',
  E_UNEXPECTED: 'E_INTERNAL',
} as const satisfies Record<string, ErrorCode>;
export type ErrorAlias = keyof typeof ERROR_ALIASES;

function canonical(code: string): string {
  return Object.hasOwn(ERROR_ALIASES, code) ? ERROR_ALIASES[code as ErrorAlias] : code;
}

export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_CODES, code);
}

/** Marks a FailsafeError whichever copy of Failsafe made it (a plugin may bring its own: the dual-package hazard). */
const BRAND = Symbol.for('failsafe.FailsafeError');

export class FailsafeError extends Error {
  /** A FailsafeError of another copy of this module (a plugin's own dependency, or dist/ beside the sources) is one too. */
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { [BRAND]?: unknown })[BRAND] === true;
  }

  readonly [BRAND] = true;
  override readonly name = 'FailsafeError';
  readonly code: ErrorCode;
  /** The stored object or file concerned, when there is one (verify reports name it). */
  readonly object: string | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; object?: string }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.object = options?.object ?? (options?.cause instanceof FailsafeError ? options.cause.object : undefined);
  }

  get exitCode(): ExitCode {
    return ERROR_CODES[this.code];
  }
}

/** True for a FailsafeError, with `code` or one of its aliases when given. */
export function isFailsafeError(err: unknown, code?: ErrorCode | ErrorAlias): err is FailsafeError {
  return err instanceof FailsafeError && (code === undefined || canonical(err.code) === canonical(code));
}

/** Exit status for any thrown value: unknown errors are plain failures (E_INTERNAL's status). */
export function exitCodeOf(err: unknown): ExitCode {
  return err instanceof FailsafeError ? err.exitCode : ExitCode.failed;
}

/**
 * The `code` of a thrown Node error (`ENOENT`, `EACCES`, `ABORT_ERR`, …), or
 * undefined when the value has no string code: the one way to read an errno.
 */
export function errnoOf(err: unknown): string | undefined {
  const code = typeof err === 'object' && err !== null ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' ? code : undefined;
}

/** An operating system's error code (`ENOENT`, `EIO`, `EAI_AGAIN`, …): not Node's own `ERR_*` nor a library's codes. */
function systemErrno(err: unknown): string | undefined {
  const errno = err instanceof Error ? errnoOf(err) : undefined;
  return errno !== undefined && /^E(?!RR_)[A-Z0-9_]+$/.test(errno) ? errno : undefined;
}

/**
 * Node's errno codes mapped to ours, for adapters and plugins touching the
 * filesystem. Whatever else such a call throws is the store's failure: E_STORAGE.
 */
export function fromNodeError(err: unknown, what: string): FailsafeError {
  if (err instanceof FailsafeError) return err;
  const errno = errnoOf(err);
  const detail = err instanceof Error ? err.message : String(err);
  switch (errno) {
    case 'ENOENT':
      return new FailsafeError('E_NOT_FOUND', `${what}: not found`, { cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new FailsafeError('E_PERMISSION', `${what}: ${refusal(errno)}`, { cause: err });
    case 'ABORT_ERR':
      return new FailsafeError('E_ABORTED', `${what}: aborted`, { cause: err });
    default:
      return new FailsafeError('E_STORAGE', `${what}: ${detail}`, { cause: err });
  }
}

/** How a refused write reads: a read-only file system (a disk the kernel remounted read-only) says so. */
function refusal(errno: string): string {
  return errno === 'EROFS' ? 'the file system is read-only (EROFS)' : `permission denied (${errno})`;
}

/**
 * Why a new file the user asked for (a key, an identity, a configuration) could
 * not be created at `path`: it exists (E_EXISTS, naming `what`), its folder is
 * missing (E_USAGE), or writing there is not allowed (E_PERMISSION).
 */
export function fromCreateError(err: unknown, path: string, what: string): unknown {
  const errno = errnoOf(err);
  switch (errno) {
    case 'EEXIST':
      return new FailsafeError('E_EXISTS', `${path} already exists; refusing to overwrite ${what}`, { cause: err });
    case 'ENOENT':
    case 'ENOTDIR':
      return new FailsafeError('E_USAGE', `cannot create ${path}: its folder does not exist`, { cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new FailsafeError('E_PERMISSION', `cannot create ${path}: ${refusal(errno)}`, { cause: err });
    default:
      return err;
  }
}

/**
 * A file-system error from writing a restore's staged copy, before anything
 * live was touched: a full disk is E_NO_SPACE, a refusal E_PERMISSION, any
 * other errno E_RESTORE. Anything else (ours, an abort, a bug) is left as it is.
 */
export function fromStagingError(err: unknown, where: string): unknown {
  const errno = systemErrno(err);
  if (err instanceof FailsafeError || !(err instanceof Error) || errno === undefined) return err;
  const detail = `${where}: ${err.message}; live data was left as it was`;
  switch (errno) {
    case 'ENOSPC':
    case 'EDQUOT':
      return new FailsafeError('E_NO_SPACE', `no space left to restore to ${detail}`, { cause: err });
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return new FailsafeError('E_PERMISSION', `cannot restore to ${detail}`, { cause: err });
    default:
      return new FailsafeError('E_RESTORE', `restoring to ${detail}`, { cause: err });
  }
}

/**
 * Any thrown value as a FailsafeError, with its message: a cancellation is
 * E_ABORTED, an operating system's error (an errno from I/O that escaped its
 * caller's mapping) E_STORAGE, and anything else, a bug's TypeError included,
 * E_INTERNAL. Errors of storage calls arrive here already classified: Storage
 * and the adapters map their own.
 */
export function asFailsafeError(err: unknown): FailsafeError {
  if (err instanceof FailsafeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  if (isAbortError(err)) return new FailsafeError('E_ABORTED', message, { cause: err });
  return new FailsafeError(systemErrno(err) === undefined ? 'E_INTERNAL' : 'E_STORAGE', message, { cause: err });
}

/** True when a thrown value means the operation was cancelled through an AbortSignal. */
export function isAbortError(err: unknown): boolean {
  return (err as { name?: string } | undefined)?.name === 'AbortError' || errnoOf(err) === 'ABORT_ERR' || isFailsafeError(err, 'E_ABORTED');
}
