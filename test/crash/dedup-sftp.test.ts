/** kill -9 of deduplicating backups and prunes on a real OpenSSH server. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { describeDedupCrashes } from '../helpers/dedup-crash.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
}, 30_000);
afterAll(async () => sshd?.stop());

describeDedupCrashes('an SFTP target (OpenSSH)', async () => ({
  type: 'sftp',
  host: sshd.host,
  port: sshd.port,
  username: sshd.username,
  path: join(sshd.dir, `dedup-${randomBytes(6).toString('hex')}`),
  hostKey: sshd.fingerprint,
  privateKey: sshd.clientKey,
}));
