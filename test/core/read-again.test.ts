import { describe, expect, it } from 'vitest';
import { FailsafeError } from '../../core/errors.js';
import { readAgain } from '../../core/repository/read-again.js';

/** A read failing with `errors` in turn, then resolving with 'ok'; counts its calls. */
function flaky(...errors: unknown[]): { read: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    read: async () => {
      const err = errors[calls++];
      if (err !== undefined) throw err;
      return 'ok';
    },
    calls: () => calls,
  };
}

const checksum = (): FailsafeError => new FailsafeError('E_CHECKSUM', 'checksum mismatch in t:k');
const dropped = (): FailsafeError =>
  new FailsafeError('E_STORAGE', 't: get k: aborted', { cause: Object.assign(new Error('aborted'), { code: 'ECONNRESET' }) });
const stalled = (): FailsafeError =>
  new FailsafeError('E_STORAGE', 't: get k: timed out', { cause: Object.assign(new Error('idle'), { name: 'TimeoutError' }) });

describe('readAgain', () => {
  it('reads again after damaged bytes, a dropped or a stalled transfer, and resolves with the good read', async () => {
    const r = flaky(checksum(), dropped(), stalled());
    expect(await readAgain(r.read, { tries: 4, minDelayMs: 1 })).toBe('ok');
    expect(r.calls()).toBe(4);
  });

  it('damaged on every try: E_CHECKSUM saying how many tries were made', async () => {
    const r = flaky(checksum(), checksum(), checksum(), checksum());
    const err = (await readAgain(r.read, { tries: 3, minDelayMs: 1 }).catch((e: unknown) => e)) as FailsafeError;
    expect(err.code).toBe('E_CHECKSUM');
    expect(err.message).toBe('checksum mismatch in t:k (the same on 3 tries)');
    expect(r.calls()).toBe(3);
  });

  it('fails at once on what another fetch cannot mend, and reads a local file once', async () => {
    const missing = flaky(new FailsafeError('E_NOT_FOUND', 'gone'));
    expect(((await readAgain(missing.read, { minDelayMs: 1 }).catch((e: unknown) => e)) as FailsafeError).code).toBe('E_NOT_FOUND');
    expect(missing.calls()).toBe(1);
    const local = flaky(checksum());
    expect(((await readAgain(local.read, { tries: 1 }).catch((e: unknown) => e)) as FailsafeError).message).toBe('checksum mismatch in t:k');
    expect(local.calls()).toBe(1);
  });

  it('an abort stops the retries', async () => {
    const controller = new AbortController();
    const r = flaky(checksum(), checksum());
    const reading = readAgain(r.read, { signal: controller.signal, minDelayMs: 60_000 });
    controller.abort();
    await expect(reading).rejects.toThrow();
    expect(r.calls()).toBe(1);
  });
});
