/**
 * An identity given for a while (a dashboard session's upload): checked to
 * be one the deployment seals for, then held by a deployment of its own, in
 * memory only. Its text is never written, logged or quoted in an error.
 */
import { loadIdentity, type IdentitySource } from '../../core/crypto/encryption.js';
import { encodePublicKey } from '../../core/crypto/identity.js';
import { FailsafeError } from '../../core/errors.js';
import type { Deployment } from '../container.js';

export async function withIdentity(deployment: Deployment, identity: IdentitySource): Promise<Deployment> {
  const { encryption } = deployment.config;
  const recipients = encryption.mode === 'keys' ? (encryption.recipients ?? []) : [];
  if (recipients.length === 0)
    throw new FailsafeError('E_USAGE', 'this deployment seals for no recipients (encryption.recipients): an identity opens none of its snapshots');
  const publicKey = encodePublicKey((await loadIdentity(identity)).publicKey);
  if (!recipients.includes(publicKey)) {
    throw new FailsafeError('E_WRONG_KEY', `identity ${publicKey} is not one of encryption.recipients: it opens none of this deployment's snapshots`);
  }
  return deployment.withIdentity(identity);
}
