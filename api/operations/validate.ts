/**
 * `config validate` beyond the YAML's shape: what a run would trip on and can
 * be checked without writing anything — a passphrase variable that is not
 * set, a key file that is missing or holds no key, a source whose data is
 * not there. Targets are not contacted: a backup creates their folders.
 */
import { access } from 'node:fs/promises';
import { FailsafeError, isFailsafeError } from '../../core/errors.js';
import type { Deployment } from '../container.js';

export async function validateDeployment(deployment: Deployment): Promise<{ file: string; jobs: string[] }> {
  const { encryption } = deployment.config;
  if (encryption.mode === 'keys') {
    if (encryption.passphraseError) throw encryption.passphraseError;
    if (encryption.keyFile !== undefined) {
      const { readKeyFile } = await import('../../core/crypto/keys.js');
      await readKeyFile(encryption.keyFile).catch((err: unknown) => {
        throw isFailsafeError(err) ? new FailsafeError(err.code, `encryption.keyFile: ${err.message}`, { cause: err }) : err;
      });
    }
  }
  const jobs = deployment.jobNames();
  for (const name of jobs) {
    const sources = deployment.sources(deployment.job(name));
    for (const [index, source] of sources.entries()) {
      for (const { livePath } of source.liveLocations()) {
        const missing = await access(livePath).then(
          () => false,
          () => true,
        );
        if (missing)
          throw new FailsafeError('E_SOURCE_MISSING', `jobs.${name}.sources[${index}] (${source.type} "${source.name}"): ${livePath} does not exist`);
      }
    }
  }
  return { file: deployment.loaded.file, jobs };
}
