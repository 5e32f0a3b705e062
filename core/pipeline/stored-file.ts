/**
 * A stored object's local file opened for a worker's synchronous reads and
 * always closed; failing to open or read it is the storage facade's error for
 * a get (a missing file is E_NOT_FOUND), while a FailsafeError `use` throws
 * itself passes as it is.
 */
import { closeSync, openSync } from 'node:fs';
import { FailsafeError, fromNodeError } from '../errors.js';

export function withStoredFile<T>(file: string, what: string, use: (fd: number) => T): T {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    throw fromNodeError(err, `${what}: get`);
  }
  try {
    return use(fd);
  } catch (err) {
    if (err instanceof FailsafeError) throw err;
    throw fromNodeError(err, `${what}: get`);
  } finally {
    closeSync(fd);
  }
}
