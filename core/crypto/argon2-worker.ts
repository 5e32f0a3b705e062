/**
 * The thread that runs one Argon2id derivation for core/crypto/argon2.ts:
 * libsodium's WebAssembly memory grows to the derivation's memlimit and never
 * shrinks, so it lives and dies with this thread. The result goes back
 * through shared memory, since the thread that asked is blocked waiting.
 */
import sodium from 'libsodium-wrappers-sumo';
import { workerData } from 'node:worker_threads';
import type { Argon2Job } from './argon2.js';

const job = workerData as Argon2Job;
const status = new Int32Array(job.status);
try {
  await sodium.ready;
  const key = sodium.crypto_pwhash(job.length, job.passphrase, job.salt, job.opslimit, job.memlimit, sodium.crypto_pwhash_ALG_ARGON2ID13);
  new Uint8Array(job.output).set(key);
  Atomics.store(status, 0, 1);
} catch (err) {
  const message = Buffer.from(String((err as Error)?.message ?? err)).subarray(0, job.output.byteLength);
  new Uint8Array(job.output).set(message);
  Atomics.store(status, 1, message.length);
  Atomics.store(status, 0, 2);
}
Atomics.notify(status, 0);
