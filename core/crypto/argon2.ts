/**
 * Argon2id (libsodium's crypto_pwhash) on a thread of its own. libsodium's
 * WebAssembly memory grows to the derivation's memlimit (64 MiB by default)
 * and is never given back: run on the calling thread, every later moment of
 * a passphrase backup or restore carried ~70 MB more resident memory. The
 * thread is stopped once the key is out, and its memory with it.
 *
 * The call stays synchronous (key slots are opened and sealed synchronously):
 * the caller blocks on shared memory until the thread answers. Nothing else
 * runs meanwhile, as with the call it replaces.
 */
import { Worker } from 'node:worker_threads';
import { FailsafeError } from '../errors.js';
import { workerFile } from '../threads/worker-file.js';

export interface Argon2Job {
  length: number;
  passphrase: string;
  salt: Uint8Array;
  opslimit: number;
  memlimit: number;
  /** Int32 [state (0 running, 1 done, 2 failed), error message length]. */
  status: SharedArrayBuffer;
  /** The key, or the error message. */
  output: SharedArrayBuffer;
}

/** Long enough for the largest limits a key slot may ask for (1 GiB, 20 passes) on a slow board. */
const TIMEOUT_MS = 10 * 60_000;

/** crypto_pwhash(length, passphrase, salt, opslimit, memlimit, ARGON2ID13), computed on a short-lived thread. */
export function argon2id(length: number, passphrase: string, salt: Uint8Array, opslimit: number, memlimit: number): Uint8Array {
  const status = new SharedArrayBuffer(8);
  const output = new SharedArrayBuffer(Math.max(length, 256));
  const job: Argon2Job = { length, passphrase, salt, opslimit, memlimit, status, output };
  const worker = new Worker(workerFile('./argon2-worker.js', import.meta.url), { workerData: job });
  const state = new Int32Array(status);
  try {
    if (Atomics.wait(state, 0, 0, TIMEOUT_MS) === 'timed-out') {
      throw new FailsafeError('E_INTERNAL', `the Argon2id thread did not answer within ${TIMEOUT_MS / 60_000} minutes`);
    }
    if (Atomics.load(state, 0) !== 1) {
      const message = Buffer.from(new Uint8Array(output, 0, Atomics.load(state, 1))).toString();
      throw new FailsafeError('E_INTERNAL', `the Argon2id thread failed: ${message}`);
    }
    return new Uint8Array(output.slice(0, length));
  } finally {
    void worker.terminate();
  }
}
