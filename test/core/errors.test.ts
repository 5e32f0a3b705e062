import { describe, expect, it } from 'vitest';
import { asFailsafeError, errnoOf, exitCodeOf, FailsafeError, fromNodeError, isFailsafeError } from '../../core/errors.js';

const systemError = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: something, open '/srv/x'`), { code, syscall: 'open' });

describe('errnoOf', () => {
  it("reads a thrown value's string code, and nothing else", () => {
    expect(errnoOf(systemError('ENOENT'))).toBe('ENOENT');
    expect(errnoOf({ code: 'EPIPE' })).toBe('EPIPE');
    expect(errnoOf(Object.assign(new Error('no such file'), { code: 2 }))).toBeUndefined();
    for (const value of [new Error('plain'), 'ENOENT', undefined, null, 42]) expect(errnoOf(value)).toBeUndefined();
  });
});

describe('asFailsafeError', () => {
  it('leaves a FailsafeError as it is', () => {
    const ours = new FailsafeError('E_AUTH', 'refused');
    expect(asFailsafeError(ours)).toBe(ours);
  });

  it('makes an error nobody expected E_INTERNAL, with its message and exit status 1', () => {
    const bug = new TypeError("Cannot read properties of undefined (reading 'size')");
    const err = asFailsafeError(bug);
    expect(err).toMatchObject({ code: 'E_INTERNAL', message: bug.message, cause: bug });
    expect(err.exitCode).toBe(exitCodeOf(bug));
    expect(asFailsafeError('a string').code).toBe('E_INTERNAL');
    // Node's own ERR_* codes are programming errors, not the operating system's.
    expect(asFailsafeError(Object.assign(new Error('bad argument'), { code: 'ERR_INVALID_ARG_TYPE' })).code).toBe('E_INTERNAL');
  });

  it("keeps an operating system's error a storage failure, and a cancellation E_ABORTED", () => {
    expect(asFailsafeError(systemError('EIO')).code).toBe('E_STORAGE');
    expect(asFailsafeError(systemError('EAI_AGAIN')).code).toBe('E_STORAGE');
    expect(asFailsafeError(new DOMException('This operation was aborted', 'AbortError')).code).toBe('E_ABORTED');
  });

  it('is not how a storage call is classified: fromNodeError keeps an unknown failure E_STORAGE', () => {
    expect(fromNodeError(new Error('HTTP 500 from the gateway'), 'target "nas": put a').code).toBe('E_STORAGE');
  });
});

describe('isFailsafeError with aliases', () => {
  it('matches a code and its former name both ways, and nothing else', () => {
    const bucket = new FailsafeError('E_BUCKET_NOT_FOUND', 'target "offsite": the bucket does not exist');
    const folder = new FailsafeError('E_TARGET_NOT_FOUND', 'target "dav": the folder does not exist');
    for (const err of [bucket, folder]) {
      expect(isFailsafeError(err, 'E_TARGET_NOT_FOUND')).toBe(true);
      expect(isFailsafeError(err, 'E_BUCKET_NOT_FOUND')).toBe(true);
      expect(isFailsafeError(err, 'E_NOT_FOUND')).toBe(false);
      expect(err.exitCode).toBe(1);
    }
    expect(isFailsafeError(asFailsafeError(new Error('bug')), 'E_UNEXPECTED')).toBe(true);
    expect(isFailsafeError(new FailsafeError('E_STORAGE', 'x'), 'E_UNEXPECTED')).toBe(false);
  });
});

describe('FailsafeError across copies of the module', () => {
  it('is recognised when another copy made it (a plugin bringing its own failsafe, or the built dist/)', async () => {
    const built = (await import('../../dist/core/errors.js')) as unknown as typeof import('../../core/errors.js');
    const foreign = new built.FailsafeError('E_CORRUPT', 'from the other copy');
    expect(built.FailsafeError).not.toBe(FailsafeError);
    expect(foreign instanceof FailsafeError).toBe(true);
    expect(isFailsafeError(foreign, 'E_CORRUPT')).toBe(true);
    expect(asFailsafeError(foreign)).toBe(foreign);
    expect(new Error('plain') instanceof FailsafeError).toBe(false);
    expect(Object.assign(new Error('look-alike'), { code: 'E_CORRUPT' }) instanceof FailsafeError).toBe(false);
  });
});
