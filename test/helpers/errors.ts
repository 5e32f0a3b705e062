/** Awaiting a promise that must reject with a FailsafeError. */
import { expect } from 'vitest';
import { FailsafeError } from '../../core/errors.js';

/** The FailsafeError `promise` rejects with; fails the test when it resolves or rejects with anything else. */
export async function failure(promise: Promise<unknown>): Promise<FailsafeError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FailsafeError);
  return err as FailsafeError;
}
