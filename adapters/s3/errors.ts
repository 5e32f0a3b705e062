/**
 * S3 errors as FailsafeErrors: one line naming the target, the bucket and the
 * endpoint, with a stable code. Transient errors have already been retried by
 * the SDK by the time they arrive here.
 */
import { FailsafeError, isAbortError, type ErrorCode } from '../../core/errors.js';
import { describeGivingUp } from '../../core/repository/timeouts.js';

interface SdkError {
  name?: string;
  code?: string;
  message?: string;
  Code?: string;
  Endpoint?: string;
  $metadata?: { httpStatusCode?: number; attempts?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

const AUTH = new Set(['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'ExpiredToken', 'InvalidToken', 'TokenRefreshRequired', 'InvalidClientTokenId']);
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EPIPE']);
const WRONG_REGION = new Set(['PermanentRedirect', 'AuthorizationHeaderMalformed', 'IllegalLocationConstraintException']);

export interface ErrorContext {
  /** `target "offsite" (bucket "b" at https://…)` */
  where: string;
  region: string | undefined;
  /** The time-outs in force, for the message when every attempt timed out. */
  connectMs?: number;
  idleMs?: number;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/** `get snap/1/manifest` → a FailsafeError for `err`. */
export function s3Error(err: unknown, context: ErrorContext, what: string): FailsafeError {
  if (err instanceof FailsafeError) return err;
  const e = (err ?? {}) as SdkError;
  const name = e.Code ?? e.name ?? '';
  const status = e.$metadata?.httpStatusCode;
  const detail = oneLine(e.message || name || String(err));
  const fail = (code: ErrorCode, message: string): FailsafeError => new FailsafeError(code, `${context.where}: ${what}: ${message}`, { cause: err });

  if (isAbortError(err)) return fail('E_ABORTED', 'aborted');
  if (name === 'NoSuchKey' || (name === 'NotFound' && status === 404)) return fail('E_NOT_FOUND', 'not found');
  // S3's name for E_TARGET_NOT_FOUND, kept because scripts match it (docs/errors.md, Aliases).
  if (name === 'NoSuchBucket') return fail('E_BUCKET_NOT_FOUND', 'the bucket does not exist');
  if (AUTH.has(name)) return fail('E_AUTH', `credentials refused (${name}): ${detail}`);
  if (name === 'CredentialsProviderError') {
    return fail('E_AUTH', 'no credentials found: set `credentials` in the YAML, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE');
  }
  if (WRONG_REGION.has(name) || status === 301) {
    const actual = e.$response?.headers?.['x-amz-bucket-region'];
    const hint = actual ? `the bucket is in ${actual}` : e.Endpoint ? `use endpoint ${e.Endpoint}` : 'check region';
    return fail('E_STORAGE', `wrong region ${context.region ?? '(unset)'}: ${hint} (${name || status})`);
  }
  if (name === 'AccessDenied' || status === 403) return fail('E_PERMISSION', `access denied (${name || status}): ${detail}`);
  const errno = e.code ?? '';
  if (name === 'TimeoutError') return fail('E_UNREACHABLE', timedOut(e, detail, context));
  if (UNREACHABLE.has(errno) || name === 'RequestTimeout') {
    return fail('E_UNREACHABLE', `endpoint not reachable (${errno || name}): ${detail}`);
  }
  if (/region is missing/i.test(detail)) return fail('E_CONFIG', 'no region: set `region` in the YAML or AWS_REGION');
  return fail('E_STORAGE', `${name && !detail.includes(name) ? `${name}: ` : ''}${detail}${status ? ` (HTTP ${status})` : ''}`);
}

/** `gave up after 4 tries: the connection stalled 4 times, 30 s each without a byte (…)`: what every attempt met, counted. */
function timedOut(e: SdkError, detail: string, context: ErrorContext): string {
  const tries = e.$metadata?.attempts ?? 1;
  const connecting = /establish a connection/i.test(detail);
  const silent = /inactivity/i.test(detail);
  const counted = describeGivingUp({
    tries,
    stalls: silent ? tries : 0,
    idleMs: context.idleMs ?? 0,
    connects: connecting ? tries : 0,
    connectMs: context.connectMs ?? 0,
  });
  return `endpoint not reachable: ${counted ?? `gave up after ${tries === 1 ? '1 try' : `${tries} tries`}`} (TimeoutError: ${detail})`;
}
