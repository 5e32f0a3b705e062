/** SFTP failures in Failsafe's terms: status codes to E_* codes, and which failures mean the connection is gone. */
import { FailsafeError } from '../../core/errors.js';
import type { Connection } from './connection.js';

/** SSH_FX_* status codes (draft-ietf-secsh-filexfer-02), as ssh2 puts them in `err.code`. */
export const STATUS = {
  NO_SUCH_FILE: 2,
  PERMISSION_DENIED: 3,
  FAILURE: 4,
  NO_CONNECTION: 6,
  CONNECTION_LOST: 7,
  OP_UNSUPPORTED: 8,
} as const;

const code = (err: unknown): unknown => (err as { code?: unknown } | undefined)?.code;

export function isMissing(err: unknown): boolean {
  return code(err) === STATUS.NO_SUCH_FILE;
}

/** True when the failure is the connection's, not the request's: worth a retry on a fresh connection. */
export function isConnectionLoss(err: unknown, connection: Connection): boolean {
  if (err instanceof FailsafeError) return false;
  const status = code(err);
  if (status === STATUS.NO_CONNECTION || status === STATUS.CONNECTION_LOST) return true;
  if (typeof status === 'number') return false;
  if (!connection.alive) return true;
  const message = err instanceof Error ? err.message : String(err);
  return /no response from server|not connected|connection (lost|reset|closed)|channel (closed|open failure)|ECONNRESET|EPIPE|ETIMEDOUT|keepalive timeout/i.test(
    `${message} ${String(status ?? '')}`,
  );
}

export function remoteError(err: unknown, what: string, lost: boolean): FailsafeError {
  if (err instanceof FailsafeError) return err;
  const detail = err instanceof Error ? err.message : String(err);
  if (lost) return new FailsafeError('E_STORAGE', `${what}: connection lost (${detail})`, { cause: err });
  switch (code(err)) {
    case STATUS.NO_SUCH_FILE:
      return new FailsafeError('E_NOT_FOUND', `${what}: not found`, { cause: err });
    case STATUS.PERMISSION_DENIED:
      return new FailsafeError('E_PERMISSION', `${what}: permission denied on the server`, { cause: err });
    default:
      return new FailsafeError('E_STORAGE', `${what}: ${detail}`, { cause: err });
  }
}
