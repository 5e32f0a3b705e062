import type { KeyRing, KeySlot } from '../crypto/keys.js';
import { FailsafeError } from '../errors.js';

/**
 * The slots a run key is sealed in. A write-only host holds the dedup key
 * file too, to read the index; it must not be able to read what it wrote,
 * so its runs are sealed for the recipients alone. A prune that repacks
 * follows the same rule, or the copied chunks would open with the key file.
 */
export function runSlots(keyRing: KeyRing, runKey: Uint8Array, writeOnly: boolean): KeySlot[] {
  const slots = keyRing.seal(runKey);
  if (!writeOnly) return slots;
  const recipients = slots.filter((slot) => slot.type === 'recipient');
  if (recipients.length === 0) throw new FailsafeError('E_KEY_MISSING', 'a write-only host seals its backups for recipients, and none are configured');
  return recipients;
}
