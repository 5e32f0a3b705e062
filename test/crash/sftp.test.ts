/** The crash-recovery suite against the SFTP adapter, on a real OpenSSH server. */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { SftpAdapter } from '../../adapters/sftp/sftp.js';
import { describeCrashRecovery } from '../helpers/crash-recovery.js';
import { startSshd, type Sshd } from '../helpers/sshd.js';

let sshd: Sshd;
beforeAll(async () => {
  sshd = await startSshd();
}, 30_000);
afterAll(async () => sshd?.stop());

describeCrashRecovery('an SFTP target (OpenSSH)', async () => {
  const options = {
    host: sshd.host,
    port: sshd.port,
    username: sshd.username,
    path: join(sshd.dir, `crash-${randomBytes(6).toString('hex')}`),
    hostKey: sshd.fingerprint,
    privateKey: sshd.clientKey,
  };
  return {
    yaml: JSON.stringify({ type: 'sftp', ...options }),
    keys: async () => {
      const adapter = new SftpAdapter(options, 'nas');
      const out: string[] = [];
      try {
        for await (const object of adapter.list('')) out.push(object.key);
      } finally {
        await adapter.close?.();
      }
      return out.sort();
    },
  };
});
